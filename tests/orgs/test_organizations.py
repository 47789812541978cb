"""Organization list and page (F1), through the views, on the in-process sandbox."""

from __future__ import annotations

import html
from urllib.parse import quote

from django.contrib.auth.models import Group
from django.db import connection
from django.template import engines
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from adminsite import auth0
from adminsite.permissions import OPERATORS_GROUP
from tests.helpers import HTMX, org_id


def test_list_shows_first_page_and_next_link(operator_client, tenant) -> None:
    r = operator_client.get(reverse("orgs:list"))
    assert r.status_code == 200
    assert "Acme Corporation" in r.content.decode()
    assert "Next →" in r.content.decode()
    assert r.content.decode().count('href="/orgs/org_') == 50
    assert r["X-Upstream-Calls"] == "1"


def test_list_pages_forward_and_back(operator_client, tenant) -> None:
    first = operator_client.get(reverse("orgs:list"))
    cursor = first.context["page"].next
    second = operator_client.get(
        reverse("orgs:list"), {"from": cursor}, headers=HTMX | {"HX-Target": "org-table"}
    )
    body = second.content.decode()
    assert "<html" not in body  # the partial only
    assert "← Previous" in body
    assert {o.id for o in second.context["page"].organizations}.isdisjoint(
        o.id for o in first.context["page"].organizations
    )


def test_list_reaches_past_a_thousand_organizations(operator_client, tenant) -> None:
    seen: set[str] = set()
    cursor = None
    for _ in range(40):
        r = operator_client.get(reverse("orgs:list"), {"from": cursor} if cursor else {})
        page = r.context["page"]
        seen.update(o.id for o in page.organizations)
        cursor = page.next
        if not cursor:
            break
    assert len(seen) == 1100  # tests seed 1,100 organizations: all reachable, no 1,000 ceiling


def test_hostile_display_name_is_escaped(operator_client, tenant) -> None:
    body = operator_client.get(reverse("orgs:list")).content.decode()
    assert "<img src=x onerror=alert(1)>" not in body
    assert "&lt;img src=x onerror=alert(1)&gt;" in body


ROW = (  # the row templates/orgs/organization_list.html documents
    '\n<tr>\n<td data-label="Display name">'
    "<a href=\"{{ orgs_url }}{{ org.id|urlencode:'' }}/\">{{ org.display_name }}</a></td>\n"
    '<td data-label="Name"><code>{{ org.name }}</code></td>\n'
    '<td data-label="Id"><code class="muted">{{ org.id }}</code></td>\n</tr>\n'
)


def test_rows_written_in_python_are_the_templates(operator_client, tenant) -> None:
    """orgs/org_rows.py writes the row the template documents, awkward values included (an
    opaque id with characters a path must encode, markup and quotes in the names)."""
    from orgs.org_rows import organization_rows

    row = engines["django"].from_string(ROW)
    orgs = [
        auth0.Organization(id="org_abc", name="acme", display_name="Acme & Co"),
        auth0.Organization(id="org_x/y?z#1 é", name='a"b', display_name="<b>'x'</b>"),
    ]
    expected = "".join(row.render({"orgs_url": "/orgs/", "org": org}) for org in orgs)
    assert organization_rows("/orgs/", orgs) == expected
    assert 'href="/orgs/org_x%2Fy%3Fz%231%20%C3%A9/"' in expected
    body = operator_client.get(reverse("orgs:list")).content.decode()
    page = operator_client.get(reverse("orgs:list")).context["page"]
    assert organization_rows(reverse("orgs:list"), page.organizations) in body


def test_jump_by_name_and_by_id(operator_client, tenant) -> None:
    acme = org_id("acme")
    r = operator_client.get(reverse("orgs:list"), {"q": "acme"})
    assert r.status_code == 302 and r["Location"] == reverse("orgs:detail", args=[acme])
    r = operator_client.get(reverse("orgs:list"), {"q": acme})
    assert r.status_code == 302 and r["Location"] == reverse("orgs:detail", args=[acme])


def test_jump_to_unknown_name_says_so(operator_client, tenant) -> None:
    r = operator_client.get(reverse("orgs:list"), {"q": "no-such-org"}, follow=True)
    assert "No organization has the name “no-such-org”." in r.content.decode()


def test_jump_refuses_garbage_without_calling_auth0(operator_client, tenant) -> None:
    tenant.clear_log()
    r = operator_client.get(reverse("orgs:list"), {"q": "../../etc/passwd?x=1#"}, follow=True)
    assert "Type an organization id" in r.content.decode()
    assert not [x for x in tenant.requests_log if "passwd" in x["raw_path"]]


def test_detail_shows_organization_and_lazy_parts(operator_client, tenant) -> None:
    acme = org_id("acme")
    r = operator_client.get(reverse("orgs:detail", args=[acme]))
    body = r.content.decode()
    assert "Acme Corporation" in body
    assert reverse("connections:list", args=[acme]) in body
    assert reverse("orgs:members", args=[acme]) in body
    assert r["X-Upstream-Calls"] == "1"


def test_detail_of_missing_organization_says_it_no_longer_exists(operator_client, tenant) -> None:
    r = operator_client.get(reverse("orgs:detail", args=["org_doesnotexist0000"]))
    assert r.status_code == 200
    assert "That organization no longer exists in Auth0 (404)" in r.content.decode()


def test_hostile_ids_never_reach_a_view(operator_client, tenant) -> None:
    tenant.clear_log()
    for bad in ["org_x%2F..%2Fconnections", "..%2F..", "org_a b", "org_" + "a" * 60]:
        r = operator_client.get(f"/orgs/{bad}/")
        assert r.status_code == 404
    assert tenant.requests_log == []


def test_sign_in_is_required(client, tenant) -> None:
    r = client.get(reverse("orgs:list"))
    assert r.status_code == 302 and r["Location"].startswith(reverse("login"))


def test_each_row_links_to_its_organization_page(operator_client, tenant) -> None:
    r = operator_client.get(reverse("orgs:list"))
    body = r.content.decode()
    for org in r.context["page"].organizations:
        assert f'<a href="{reverse("orgs:detail", args=[org.id])}">' in body


def test_rows_escape_every_value_of_an_organization() -> None:
    """Every value is autoescaped, and an id that is not what Auth0 sends stays inside its path
    segment."""
    hostile = "<b>x</b>\"'&"
    org = auth0.Organization(id=f"org_/../{hostile}", name=hostile, display_name=hostile)
    rendered = (
        engines["django"]
        .get_template("orgs/organization_list.html#org-table")
        .render({"page": {"organizations": [org], "next": None}})
    )
    escaped = html.escape(hostile)
    assert "<b>" not in rendered and "\"'&" not in rendered
    assert f">{escaped}</a></td>" in rendered
    assert f'<td data-label="Name"><code>{escaped}</code></td>' in rendered
    assert f'<code class="muted">org_/../{escaped}</code>' in rendered
    assert f'href="/orgs/{quote(org.id, safe="")}/"' in rendered


def test_operator_group_is_asked_at_most_once_per_request(client, tenant, django_user_model):
    """For a member of the operators group (not a superuser) with a password (a local account,
    never cached: adminsite.usercache) the question is a query: a page asks it once however
    many templates it renders, the table part that never shows it not at all."""
    user = django_user_model.objects.create_user("oscar", password="pw")
    user.groups.add(Group.objects.get_or_create(name=OPERATORS_GROUP)[0])
    client.force_login(user)

    def group_queries(*args, **kwargs) -> int:
        with CaptureQueriesContext(connection) as queries:
            r = client.get(*args, **kwargs)
        assert r.status_code == 200
        return sum("auth_group" in q["sql"] for q in queries.captured_queries)

    first = client.get(reverse("orgs:list")).context["page"].next
    table = HTMX | {"HX-Target": "org-table"}
    assert group_queries(reverse("orgs:list"), {"from": first}, headers=table) == 0
    assert group_queries(reverse("orgs:list")) == 1
    acme = org_id("acme")
    assert group_queries(reverse("orgs:members", args=[acme]), headers=HTMX) == 1
    member = next(m for m in auth0.list_members(org_id=acme).members if m.roles)
    role = member.roles[0]
    with CaptureQueriesContext(connection) as queries:
        r = client.post(
            reverse("orgs:remove-role", args=[acme]),
            {"user_id": member.user_id, "role": role.id},
            headers=HTMX,
        )
    assert "Removed the role" in r.content.decode()  # the cell, then the flash message
    # One for permissions.operator_required, one for the cell's buttons; none for the message.
    assert sum("auth_group" in q["sql"] for q in queries.captured_queries) <= 2


def test_a_page_seen_before_does_not_write_the_session(operator_client, tenant) -> None:
    """The trail of pages (for ← Previous) changes only on a new page: no session write else."""
    first = operator_client.get(reverse("orgs:list"))
    assert first.cookies.get("sessionid")  # the first page's link to the next one is new
    again = operator_client.get(reverse("orgs:list"))
    assert "sessionid" not in again.cookies
    second = operator_client.get(reverse("orgs:list"), {"from": first.context["page"].next})
    assert second.cookies.get("sessionid") and "← Previous" in second.content.decode()
    members = reverse("orgs:members", args=[org_id("big-co")])
    assert operator_client.get(members, headers=HTMX).cookies.get("sessionid")
    assert "sessionid" not in operator_client.get(members, headers=HTMX).cookies
