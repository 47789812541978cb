"""The search box and a person's page, through the views, on the in-process sandbox."""

from __future__ import annotations

import html
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from django.urls import reverse

from adminsite import auth0
from orgs.search import kind_of, ranked
from tests.helpers import HTMX, api_calls, org_id

SEARCH = "/orgs/search/"


def _search(client, text: str, **params: str):
    return client.get(reverse("orgs:search"), {"q": text, **params})


def _body(r) -> str:
    return html.unescape(r.content.decode())


# --- What the text is ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("org_Kf5u0Z7mA4acJE5V", "organization id"),
        ("jane@acme.example", "email"),
        ("auth0|abc123", "user id"),
        ("samlp|acme-saml|jane/doe@acme.example", "user id"),
        ("Acme", "name"),
        ("jane @acme", "name"),
        ("京都", "name"),
        ("org_", "name"),
    ],
)
def test_the_text_is_taken_for_what_it_looks_like(text: str, kind: str) -> None:
    assert kind_of(text) == kind


def test_results_rank_the_exact_name_then_prefixes_then_the_rest() -> None:
    def org(name: str, display: str) -> auth0.Organization:
        return auth0.Organization(id=f"org_{name}", name=name, display_name=display)

    found = ranked(
        [
            org("zeta-hold", "Zeta Holdings"),
            org("holdings", "Holdings"),
            org("alpha-hold", "Alpha Holdings"),
            org("holdings-eu", "Holdings Europe"),
        ],
        "holdings",
    )
    assert [o.name for o in found] == ["holdings", "holdings-eu", "alpha-hold", "zeta-hold"]


# --- Each kind of text ---------------------------------------------------------------------


def test_an_organization_id_opens_it_with_one_call(operator_client, tenant) -> None:
    acme = org_id("acme")
    tenant.clear_log()
    r = _search(operator_client, acme)
    assert r.status_code == 302 and r["Location"] == reverse("orgs:detail", args=[acme])
    assert len(api_calls(tenant)) == 1


def test_an_unknown_organization_id_says_so(operator_client, tenant) -> None:
    r = _search(operator_client, "org_doesnotexist123")
    assert r.status_code == 200
    assert "No organization has the id “org_doesnotexist123”" in _body(r)


def test_a_user_id_opens_that_person(operator_client, tenant) -> None:
    user_id = "samlp|acme-saml|jane/doe@acme.example"
    tenant.clear_log()
    r = _search(operator_client, user_id)
    assert r.status_code == 302
    location = urlsplit(r["Location"])
    assert location.path == reverse("orgs:person")
    assert parse_qs(location.query) == {"user_id": [user_id]}
    assert api_calls(tenant) == []  # the person's page makes the calls


def test_a_shared_email_lists_every_account(operator_client, tenant) -> None:
    shared = _shared_email(tenant)
    r = _search(operator_client, shared)
    assert r.status_code == 200
    people = r.context["people"]
    assert len(people) >= 2 and {p.email.lower() for p in people} == {shared}
    body = _body(r)
    for person in people:
        assert person.user_id in body and person.connection in body


def test_an_email_of_one_account_opens_that_person(operator_client, tenant) -> None:
    users = auth0.users_by_email(email="jane@acme.example")
    assert len(users) == 1
    r = _search(operator_client, "jane@acme.example")
    assert r.status_code == 302
    assert parse_qs(urlsplit(r["Location"]).query) == {"user_id": [users[0].user_id]}


def test_an_unknown_email_says_so(operator_client, tenant) -> None:
    r = _search(operator_client, "nobody-at-all@nowhere.example")
    assert r.status_code == 200
    assert "No account in this tenant has the email" in _body(r)


def test_part_of_a_name_finds_organizations_over_several_pages(operator_client, tenant) -> None:
    tenant.clear_log()
    first = _search(operator_client, "holdings")
    assert first.status_code == 200 and len(api_calls(tenant)) == 1
    page_one = first.context["organizations"]
    assert len(page_one) == 50 and first.context["next"]
    assert all(
        "holdings" in o.name.lower() or "holdings" in o.display_name.lower() for o in page_one
    )
    assert "Next →" in _body(first)
    second = _search(operator_client, "holdings", **{"from": first.context["next"]})
    page_two = second.context["organizations"]
    assert page_two and {o.id for o in page_two}.isdisjoint(o.id for o in page_one)
    assert second.context["previous"] == ""  # back to the first page
    assert "← Previous" in _body(second)


def test_each_result_links_to_its_page(operator_client, tenant) -> None:
    """The links are made from one URL lookup a page (as the organization list's): each is the
    page reverse() gives, the id percent-encoded."""
    from django.urls import reverse

    found = _search(operator_client, "holdings")
    for org in found.context["organizations"]:
        assert f'<a href="{reverse("orgs:detail", args=[org.id])}">' in _body(found)
    people = _search(operator_client, _shared_email(tenant))
    assert len(people.context["people"]) >= 2
    for person in people.context["people"]:
        link = reverse("orgs:person") + "?user_id=" + quote(person.user_id, safe="")
        assert f'<a href="{link}">' in _body(people)


def test_non_latin_names_are_found(operator_client, tenant) -> None:
    r = _search(operator_client, "京都")
    assert r.status_code == 200
    assert any("京都" in o.display_name for o in r.context["organizations"])


@pytest.mark.parametrize(
    "text", ['acme" or name co "', "*", "acme AND big", "(acme)", "back\\slash", "name:acme"]
)
def test_hostile_text_never_widens_the_search(operator_client, tenant, text: str) -> None:
    tenant.clear_log()
    r = _search(operator_client, text)
    assert r.status_code == 200
    [call] = api_calls(tenant)
    [q] = parse_qs(call["query"])["q"]
    literal = text.replace("\\", "\\\\").replace('"', '\\"')
    op = "co" if len(text) >= 3 else "sw"
    assert q == f'name {op} "{literal}" or display_name {op} "{literal}"'
    for org in r.context["organizations"]:
        assert text.lower() in f"{org.name} {org.display_name}".lower()


@pytest.mark.parametrize("text", ["x" * 201, "acme\x00", "acme\x1b[0m"])
def test_bad_text_gets_a_message_and_no_call(operator_client, tenant, text: str) -> None:
    tenant.clear_log()
    r = _search(operator_client, text)
    assert r.status_code == 400
    assert "nothing was searched" in _body(r)
    assert api_calls(tenant) == []


def test_an_empty_search_explains_the_box(operator_client, tenant) -> None:
    tenant.clear_log()
    r = _search(operator_client, "   ")
    assert r.status_code == 200 and "Type what a ticket gives" in _body(r)
    assert api_calls(tenant) == []


@pytest.mark.parametrize("status", [404, 403])
def test_without_auth0_search_the_exact_name_is_found_and_the_page_says_why(
    operator_client, tenant, status: int
) -> None:
    if status == 404:
        tenant.disable_search(404)
    else:
        tenant.set_scopes([s for s in tenant.scopes if s != "read:organizations"])
    r = _search(operator_client, "acme")
    body = _body(r)
    assert r.status_code == 200
    assert f"({status})" in body and "exactly this name" in body
    if status == 404:  # with the scope, the exact name is still found
        assert [o.name for o in r.context["organizations"]] == ["acme"]


# --- A person's page -----------------------------------------------------------------------


def _person(client, user_id: str, **headers: str):
    return client.get(reverse("orgs:person"), {"user_id": user_id}, headers=headers or None)


def _shared_email(tenant) -> str:
    by_email: dict[str, int] = {}
    for user in tenant.store.users.values():
        email = (user.get("email") or "").lower()
        by_email[email] = by_email.get(email, 0) + 1
    return next(e for e, n in by_email.items() if e and n >= 2)


def test_a_person_page_lists_every_organization_after_two_calls(operator_client, tenant) -> None:
    [jane] = auth0.users_by_email(email="jane@acme.example")
    orgs = auth0.list_user_organizations(user_id=jane.user_id)
    assert len(orgs) >= 4
    tenant.clear_log()
    r = _person(operator_client, jane.user_id)
    assert r.status_code == 200 and len(api_calls(tenant)) == 2
    body = _body(r)
    assert body.count('data-testid="person-organization"') == len(orgs)
    for org in orgs:
        assert org.display_name in body
        roles_url = reverse("orgs:member-roles", args=[org.id])
        assert roles_url in body  # each row loads the person's roles in it as its own part
        # the links, made from one URL lookup a page, are the ones reverse() gives
        email = quote(jane.email, safe="")
        assert f'href="{reverse("orgs:detail", args=[org.id])}?email={email}"' in body
        assert f'hx-get="{roles_url}?user_id={quote(jane.user_id, safe="")}"' in body


def test_each_roles_part_is_the_members_roles_cell(operator_client, tenant) -> None:
    [jane] = auth0.users_by_email(email="jane@acme.example")
    org = auth0.list_user_organizations(user_id=jane.user_id)[0]
    roles = auth0.get_member_roles(org_id=org.id, user_id=jane.user_id)
    r = operator_client.get(
        reverse("orgs:member-roles", args=[org.id]), {"user_id": jane.user_id}, headers=HTMX
    )
    body = _body(r)
    assert 'data-testid="roles-cell"' in body and "Add roles…" in body
    for role in roles:
        assert role.name in body


def test_a_person_in_no_organization_says_so(operator_client, tenant) -> None:
    some = next(iter(tenant.store.users.values()))
    loner = "auth0|in-no-organization"
    tenant.store.users[loner] = {
        **some,
        "user_id": loner,
        "email": "loner@nowhere.example",
        "name": "Lone Ranger",
        "identities": [{**some["identities"][0], "user_id": "in-no-organization"}],
    }
    assert auth0.list_user_organizations(user_id=loner) == []
    r = _person(operator_client, loner)
    assert r.status_code == 200
    body = _body(r)
    assert "Lone Ranger" in body and "This person is in no organization." in body


def test_an_unknown_person_says_so(operator_client, tenant) -> None:
    r = _person(operator_client, "auth0|no-such-person")
    assert r.status_code == 200
    assert "No user has the id “auth0|no-such-person”" in _body(r)


@pytest.mark.parametrize("user_id", ["..", ".", "a\nb", "x" * 2000])
def test_a_bad_user_id_is_refused_without_a_call(operator_client, tenant, user_id: str) -> None:
    tenant.clear_log()
    r = _person(operator_client, user_id)
    assert r.status_code == 400
    assert "Nothing was loaded" in _body(r)
    assert api_calls(tenant) == []


def test_the_organization_link_finds_the_member_there(operator_client, tenant) -> None:
    [jane] = auth0.users_by_email(email="jane@acme.example")
    org = auth0.list_user_organizations(user_id=jane.user_id)[0]
    page = _body(operator_client.get(reverse("orgs:detail", args=[org.id]), {"email": jane.email}))
    assert f"?email={jane.email.replace('@', '%40')}" in page  # the members part loads found
    assert f'value="{jane.email}"' in page  # and the find box shows what was found


def test_the_search_box_is_on_every_page(operator_client, tenant) -> None:
    body = operator_client.get(reverse("orgs:list")).content.decode()
    assert 'role="search"' in body and 'for="site-search"' in body and ">Search<" in body
    assert f'action="{SEARCH}"' in body


# --- Finding a member inside an organization by part of a name ----------------------------


@pytest.mark.parametrize("text", ["Jane Sm", "smith", "JANE SMITH"])
def test_find_in_an_organization_takes_part_of_a_name(operator_client, tenant, text: str) -> None:
    acme = org_id("acme")
    tenant.clear_log()
    r = operator_client.get(reverse("orgs:members", args=[acme]), {"email": text}, headers=HTMX)
    assert r.status_code == 200
    found = r.context["members"]
    assert "jane@acme.example" in {m.email for m in found}
    assert all(
        any(w.startswith(text.split()[0].lower()) for w in m.name.lower().split())
        or m.email.startswith(text.lower())
        for m in found
    )
    [search, *roles] = api_calls(tenant)
    [q] = parse_qs(search["query"])["q"]
    term = text.replace(" ", "\\ ") + "*"
    assert q == f'organization_id:"{acme}" AND (email:{term} OR name:{term})'
    assert len(roles) == len(found)


def test_a_whole_address_is_still_an_exact_email(operator_client, tenant) -> None:
    acme = org_id("acme")
    tenant.clear_log()
    r = operator_client.get(
        reverse("orgs:members", args=[acme]), {"email": "jane@acme.example"}, headers=HTMX
    )
    assert [m.email for m in r.context["members"]] == ["jane@acme.example"]
    [q] = parse_qs(api_calls(tenant)[0]["query"])["q"]
    assert q == f'organization_id:"{acme}" AND email:"jane@acme.example"'
