"""Members with roles (F5) and role assignment (F6), through the views."""

from __future__ import annotations

import html
import json
from html.parser import HTMLParser
from unittest.mock import patch

import pytest
from django.urls import reverse

from adminsite import auth0
from adminsite.audit.models import AuditEntry
from adminsite.templatetags.orgdesk import roles_cell_id
from orgs import names
from tests.helpers import HTMX, api_calls, mutations, org_id


@pytest.fixture
def acme(tenant) -> str:
    return org_id("acme")


def _members(acme: str) -> list[auth0.Member]:
    return auth0.list_members(org_id=acme).members


def _roles_not_held(member: auth0.Member, n: int) -> list[str]:
    held = {r.id for r in member.roles}
    return [r.id for r in auth0.list_roles(per_page=50) if r.id not in held][:n]


def test_members_part_lists_members_with_roles_in_one_call(operator_client, tenant, acme) -> None:
    members = _members(acme)
    tenant.clear_log()
    r = operator_client.get(reverse("orgs:members", args=[acme]), headers=HTMX)
    body = r.content.decode()
    assert body.count('data-testid="member-row"') == len(members)
    with_roles = next(m for m in members if m.roles)
    assert with_roles.roles[0].name in body
    [call] = api_calls(tenant)
    assert "fields=user_id%2Cemail%2Cname%2Cpicture%2Croles" in call["query"]


def test_hostile_member_names_are_escaped(operator_client, tenant) -> None:
    body = operator_client.get(
        reverse("orgs:members", args=[org_id("acme")]), headers=HTMX
    ).content.decode()
    assert 'data-testid="member-row"' in body
    assert "&lt;b&gt;Bob&lt;/b&gt; &lt;script&gt;x&lt;/script&gt;" in body  # shown, escaped
    assert "<script>" not in body and "<b>" not in body


def test_members_page_through_more_than_a_thousand(operator_client, tenant) -> None:
    big = org_id("big-co")
    seen: set[str] = set()
    cursor = None
    for _ in range(60):
        r = operator_client.get(
            reverse("orgs:members", args=[big]), {"from": cursor} if cursor else {}, headers=HTMX
        )
        seen.update(m.user_id for m in r.context["members"])
        cursor = r.context["next"]
        if not cursor:
            break
    assert len(seen) == 1100


def test_find_member_by_email(operator_client, tenant, acme) -> None:
    target = next(m for m in _members(acme) if m.email)
    r = operator_client.get(
        reverse("orgs:members", args=[acme]), {"email": target.email.upper()}, headers=HTMX
    )
    found = r.context["members"]
    assert found and found[0].user_id == target.user_id


def test_role_picker_searches_tenant_roles(operator_client, tenant, acme) -> None:
    member = _members(acme)[0]
    any_role = auth0.list_roles()[0]
    word = any_role.name.split()[0]
    r = operator_client.get(
        reverse("orgs:role-picker", args=[acme]),
        {"user_id": member.user_id, "q": word},
        headers=HTMX,
    )
    body = r.content.decode()
    assert any_role.name in body and "of 50 roles assigned" in body
    assert any(c["query"] and "name_filter=" in c["query"] for c in api_calls(tenant))


@pytest.mark.parametrize("needle", ["/", "|"])
def test_assign_roles_to_member_with_awkward_id(operator_client, tenant, acme, needle) -> None:
    member = next(m for m in _members(acme) if needle in m.user_id and len(m.roles) < 40)
    picked = _roles_not_held(member, 2)
    tenant.clear_log()
    r = operator_client.post(
        reverse("orgs:assign-roles", args=[acme]),
        {"user_id": member.user_id, "roles": picked},
        headers=HTMX,
    )
    body = r.content.decode()
    assert r.status_code == 200 and "Assigned" in body
    [post] = mutations(tenant)
    from urllib.parse import quote

    assert (
        post["raw_path"]
        == f"/api/v2/organizations/{acme}/members/{quote(member.user_id, safe='')}/roles"
    )
    assert "%2F" in post["raw_path"] or "%7C" in post["raw_path"]
    assert post["json"] == {"roles": picked}
    now = {r.id for r in auth0.get_member_roles(org_id=acme, user_id=member.user_id)}
    assert set(picked) <= now


def test_assign_refuses_past_fifty_roles_without_calling(operator_client, tenant, acme) -> None:
    member = next(
        m
        for m in _members(acme)
        if len(auth0.get_member_roles(org_id=acme, user_id=m.user_id)) == 49
    )
    picked = _roles_not_held(member, 2)
    tenant.clear_log()
    r = operator_client.post(
        reverse("orgs:assign-roles", args=[acme]),
        {"user_id": member.user_id, "roles": picked},
        headers=HTMX,
    )
    assert "Auth0 allows at most 50" in r.content.decode()
    assert mutations(tenant) == []


def test_remove_role(operator_client, tenant, acme) -> None:
    member = next(m for m in _members(acme) if m.roles)
    role = member.roles[0]
    operator_client.get(reverse("orgs:members", args=[acme]), headers=HTMX)  # names the roles
    tenant.clear_log()
    r = operator_client.post(
        reverse("orgs:remove-role", args=[acme]),
        {"user_id": member.user_id, "role": role.id},
        headers=HTMX,
    )
    assert f"Removed the role {role.name} from" in html.unescape(r.content.decode())
    assert role.id not in {
        x.id for x in auth0.get_member_roles(org_id=acme, user_id=member.user_id)
    }
    [delete] = mutations(tenant)
    assert delete["method"] == "DELETE" and delete["json"] == {"roles": [role.id]}
    entry = AuditEntry.objects.get()
    assert entry.roles == [{"id": role.id, "name": role.name}]


def _role_named(tenant, acme: str, name: str) -> tuple[auth0.Member, auth0.Role]:
    """A member of acme and one of its roles, renamed `name` in the tenant."""
    member = next(m for m in _members(acme) if m.roles)
    role = member.roles[0]
    tenant.store.roles[role.id]["name"] = name
    return member, auth0.Role(id=role.id, name=name, description=role.description)


def test_remove_role_names_the_role_as_auth0_did_not_as_posted(operator_client, tenant, acme):
    """A posted role_name is not read: the log and the message say what Auth0 called the role."""
    member, role = _role_named(tenant, acme, "admin")
    body = operator_client.get(reverse("orgs:members", args=[acme]), headers=HTMX)
    assert "admin" in body.content.decode()  # the page showed it (and Org Desk noted the name)
    tenant.clear_log()
    r = operator_client.post(
        reverse("orgs:remove-role", args=[acme]),
        {"user_id": member.user_id, "role": role.id, "role_name": "guest"},
        headers=HTMX,
    )
    answer = html.unescape(r.content.decode())
    person = names.person_label(member.user_id, member.name, member.email)  # as listed
    assert r.status_code == 200 and f"Removed the role admin from {person}." in answer
    assert "guest" not in answer
    [delete] = mutations(tenant)
    assert delete["json"] == {"roles": [role.id]}
    entry = AuditEntry.objects.get()
    assert entry.outcome == "success" and entry.member_id == member.user_id
    assert entry.roles == [{"id": role.id, "name": "admin"}]
    assert entry.before is None  # the page's word is not a before-state
    assert "guest" not in json.dumps([entry.roles, entry.before, entry.after, entry.requested])


def test_remove_role_of_unknown_name_shows_the_id_and_says_so(operator_client, tenant, acme):
    """Nothing Org Desk read named the role: the id, and that its name is unknown."""
    member, role = _role_named(tenant, acme, "admin")
    tenant.clear_log()
    r = operator_client.post(
        reverse("orgs:remove-role", args=[acme]),
        {"user_id": member.user_id, "role": role.id, "role_name": "guest"},
        headers=HTMX,
    )
    answer = html.unescape(r.content.decode())
    assert (
        f"Removed the role {role.id} (name unknown to Org Desk) from {member.user_id} "
        "(name unknown to Org Desk)." in answer  # no page named the member either
    )
    assert "guest" not in answer and len(mutations(tenant)) == 1
    entry = AuditEntry.objects.get()
    assert entry.roles == [{"id": role.id, "name": ""}]
    page = html.unescape(
        operator_client.get(reverse("audit:detail", args=[entry.pk])).content.decode()
    )
    assert role.id in page and "name unknown" in page and "guest" not in page


def test_role_names_come_from_reads_already_made(operator_client, tenant, acme) -> None:
    """The picker's GET /roles names roles for a later removal; no extra upstream call, and a
    page seen again writes nothing to the cache."""
    member, role = _role_named(tenant, acme, "billing-admin")
    tenant.clear_log()
    operator_client.get(
        reverse("orgs:role-picker", args=[acme]), {"user_id": member.user_id}, headers=HTMX
    )
    assert len(api_calls(tenant)) == 2  # GET /roles and the member's roles, as before
    assert names.known().role_name(role.id) == "billing-admin"
    writes = []
    for _ in range(2):
        with patch.object(
            names.memo.cache, "set_many", wraps=names.memo.cache.set_many
        ) as cache_set:
            operator_client.get(reverse("orgs:members", args=[acme]), headers=HTMX)
        calls = [c.args[0] for c in cache_set.call_args_list]
        writes.append(sum(any(key.startswith("orgs:") for key in keys) for keys in calls))
    assert writes == [1, 0]  # the people are new (one write), then a page seen before: none


def test_assign_names_roles_from_auth0_not_from_the_form(operator_client, tenant, acme) -> None:
    member = _members(acme)[0]
    [role_id] = _roles_not_held(member, 1)
    tenant.store.roles[role_id]["name"] = "support-lead"
    operator_client.get(
        reverse("orgs:role-picker", args=[acme]), {"user_id": member.user_id}, headers=HTMX
    )
    r = operator_client.post(
        reverse("orgs:assign-roles", args=[acme]),
        {"user_id": member.user_id, "roles": [role_id], "role_name": "guest", "name": "guest"},
        headers=HTMX,
    )
    answer = html.unescape(r.content.decode())
    # The picker names roles, not people: the member is named by id, marked unknown.
    assert f"Assigned the role support-lead to {member.user_id} (name unknown" in answer
    assert "guest" not in answer
    entry = AuditEntry.objects.get()
    assert entry.roles == [{"id": role_id, "name": "support-lead"}]
    assert "guest" not in json.dumps([entry.roles, entry.before, entry.after, entry.requested])


@pytest.mark.parametrize(
    "data",
    [
        {"user_id": "", "roles": ["rol_abc"]},
        {"user_id": "auth0|x\n", "roles": ["rol_abc"]},
        {"user_id": "auth0|x", "roles": ["../../roles"]},
        {"user_id": "auth0|x", "roles": []},
        {"user_id": "a" * 300, "roles": ["rol_abc"]},
    ],
)
def test_assign_rejects_hostile_input_without_calling(operator_client, tenant, acme, data) -> None:
    tenant.clear_log()
    r = operator_client.post(reverse("orgs:assign-roles", args=[acme]), data, headers=HTMX)
    assert r.status_code == 400 and "Nothing was changed" in r.content.decode()
    assert api_calls(tenant) == []


def test_viewer_cannot_assign_or_remove(viewer_client, tenant, acme) -> None:
    member = _members(acme)[0]
    tenant.clear_log()
    for name in ("orgs:assign-roles", "orgs:remove-role"):
        r = viewer_client.post(
            reverse(name, args=[acme]),
            {"user_id": member.user_id, "roles": ["rol_x"], "role": "rol_x"},
            headers=HTMX,
        )
        assert r.status_code == 403
    assert api_calls(tenant) == []
    body = viewer_client.get(reverse("orgs:members", args=[acme]), headers=HTMX).content.decode()
    assert body.count('data-testid="member-row"') == len(_members(acme)) > 0
    assert "Add roles…" not in body and "Remove role" not in body


# --- The roles cell's markup: what its buttons send, escaping, one copy of it ------------------

HOSTILE_ROLE_NAME = '"\'><script>alert(1)</script> & {"role": "rol_other"}'


class _Elements(HTMLParser):
    """Start tags with their attributes, entities decoded as a browser decodes them; each
    element also gets `in-cell`, the id of the table cell it is in, and `row-vals`, the hx-vals
    of its table row (which htmx adds to every request of the row's buttons)."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str]]] = []
        self.cell = ""
        self.row_vals = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if tag == "td":
            self.cell = found.get("id", "")
        if tag == "tr":
            self.row_vals = found.get("hx-vals", "")
        self.found.append((tag, found | {"in-cell": self.cell, "row-vals": self.row_vals}))

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self.cell = ""
        if tag == "tr":
            self.row_vals = ""


def _elements(body: str) -> list[tuple[str, dict[str, str]]]:
    parser = _Elements()
    parser.feed(body)
    return parser.found


def _cell_of(body: str, user_id: str, org: str) -> dict[str, str]:
    cell_id = roles_cell_id(user_id, org)
    [cell] = [a for t, a in _elements(body) if t == "td" and a.get("id") == cell_id]
    return cell


def test_remove_button_sends_what_remove_role_needs(operator_client, tenant, acme) -> None:
    user_id = "samlp|acme-saml|jane/doe@acme.example"  # "|" and "/" in the id
    [member] = [m for m in _members(acme) if m.user_id == user_id]
    role = member.roles[0]
    tenant.store.roles[role.id]["name"] = HOSTILE_ROLE_NAME
    body = operator_client.get(reverse("orgs:members", args=[acme]), headers=HTMX).content.decode()
    assert "<script>" not in body
    cell = _cell_of(body, user_id, acme)
    # Every button of the cell swaps the cell and sends the member (htmx inherits these).
    assert cell["hx-target"] == "this" and cell["hx-swap"] == "outerHTML"
    assert json.loads(cell["row-vals"]) == {"user_id": user_id}
    # The ×: static/app.js makes its confirm step, whose Remove posts {"role": data-chip-ask}
    # to the cell's data-remove-role (tests/browser: the click through).
    [chip] = [
        a
        for t, a in _elements(body)
        if t == "button"
        and a["in-cell"] == cell["id"]
        and a.get("aria-label") == f"Remove role {HOSTILE_ROLE_NAME}…"
    ]
    values = json.loads(cell["row-vals"]) | {"role": chip["data-chip-ask"]}
    assert values == {"user_id": user_id, "role": role.id}  # ids only: no name is posted
    assert cell["data-remove-role"] == reverse("orgs:remove-role", args=[acme])

    tenant.clear_log()
    r = operator_client.post(cell["data-remove-role"], values, headers=HTMX)
    answer = r.content.decode()
    assert r.status_code == 200 and "<script>" not in answer
    assert f"Removed the role {html.escape(HOSTILE_ROLE_NAME)}" in answer
    [delete] = mutations(tenant)
    assert delete["json"] == {"roles": [role.id]}
    assert role.id not in {r.id for r in auth0.get_member_roles(org_id=acme, user_id=user_id)}


def test_add_roles_button_opens_the_picker_for_its_member(operator_client, tenant, acme) -> None:
    user_id = "oidc|corp/okta|00u1abc"
    body = operator_client.get(reverse("orgs:members", args=[acme]), headers=HTMX).content.decode()
    cell = _cell_of(body, user_id, acme)
    # Every cell's Add roles… asks the same URL; the member comes from the row's hx-vals,
    # which htmx adds to a GET's query string (as the browser test exercises).
    picker = reverse("orgs:role-picker", args=[acme])
    adds = [a for t, a in _elements(body) if t == "button" and a.get("hx-get") == picker]
    assert len(adds) == len(_members(acme))
    r = operator_client.get(picker, json.loads(cell["row-vals"]), headers=HTMX)
    assert r.status_code == 200
    assert 'data-testid="role-picker"' in r.content.decode()
    assert r.context["member"]["user_id"] == user_id


def test_a_roles_cell_alone_is_the_same_markup_as_in_its_row(operator_client, tenant, acme) -> None:
    """Cancel in the role picker, assign and remove answer with the cell the row has."""
    body = operator_client.get(reverse("orgs:members", args=[acme]), headers=HTMX).content.decode()
    for member in _members(acme)[:5]:
        alone = operator_client.get(
            reverse("orgs:member-roles", args=[acme]), {"user_id": member.user_id}, headers=HTMX
        ).content.decode()
        cell = alone.strip()
        assert cell.startswith(f'<td id="{roles_cell_id(member.user_id, acme)}"')
        assert cell in body


def test_viewer_cells_have_no_buttons_or_values(viewer_client, tenant, acme) -> None:
    body = viewer_client.get(reverse("orgs:members", args=[acme]), headers=HTMX).content.decode()
    assert body.count('data-testid="roles-cell"') == len(_members(acme))
    assert "hx-vals" not in body and "hx-post" not in body and "<button" not in body
    assert "No roles" in body  # members without roles say so
    with_roles = next(m for m in _members(acme) if m.roles)
    assert f'<span class="chip">{html.escape(with_roles.roles[0].name)}</span>' in body


def test_rows_escape_every_value_of_a_member() -> None:
    """Every value of a member row is autoescaped; hx-vals carry the exact ids."""
    from django.template import engines

    row = engines["django"].get_template("orgs/organization_detail.html#member-row")
    hostile = "<b>x</b>\"'&"
    member = auth0.Member(
        user_id=f"auth0|{hostile}",
        email=f"{hostile}@example.com",
        name=hostile,
        picture="",
        roles=(auth0.Role(id=f"rol_{hostile}", name=hostile, description=""),),
    )
    rendered = row.render({"member": member, "org_id": "org_abc", "is_operator": True})
    assert "<b>" not in rendered and "\"'&" not in rendered
    escaped = html.escape(hostile)
    assert f'<td data-label="Member">{escaped}</td>' in rendered
    assert f'<td data-label="Email">{escaped}@example.com</td>' in rendered
    assert f'<code class="muted">auth0|{escaped}</code>' in rendered
    assert f"Remove role {escaped}" in rendered
    [tr] = [a for t, a in _elements(rendered) if t == "tr"]
    assert json.loads(tr["hx-vals"]) == {"user_id": member.user_id}  # every button of the row
    [remove] = [a for t, a in _elements(rendered) if t == "button" and a.get("hx-target")]
    assert json.loads(remove["row-vals"]) == {"user_id": member.user_id}  # Remove… (membership)
    assert remove["aria-label"] == f"Remove {hostile} from this organization…"
    [chip] = [a for t, a in _elements(rendered) if t == "button" and "data-chip-ask" in a]
    assert chip["data-chip-ask"] == f"rol_{hostile}"
    empty = auth0.Member(user_id="auth0|y", email="", name="", picture="", roles=())
    viewer = row.render({"member": empty, "org_id": "org_abc", "is_operator": False})
    assert viewer.count(">—</td>") == 2 and "No roles" in viewer
