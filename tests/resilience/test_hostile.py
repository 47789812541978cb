"""Hostile input: names that carry markup or odd text, ids that try to escape their path
segment, forged POSTs and wrong methods. Each gets escaping or a clear 4xx with a message, and
never a call to an upstream path Org Desk did not mean (asserted on the sandbox's request log)."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, quote

import pytest
from django.test import Client
from django.urls import reverse

from adminsite import auth0
from tests.helpers import HTMX, api_calls, mutations, org_id

# Every path Org Desk may ask of the Management API (raw, still percent-encoded).
SEG = r"[A-Za-z0-9_%.~-]+"
ALLOWED_UPSTREAM = [
    re.compile(p)
    for p in (
        r"^/api/v2/organizations$",
        rf"^/api/v2/organizations/{SEG}$",
        rf"^/api/v2/organizations/name/{SEG}$",
        rf"^/api/v2/organizations/{SEG}/enabled_connections$",
        rf"^/api/v2/organizations/{SEG}/enabled_connections/{SEG}$",
        rf"^/api/v2/organizations/{SEG}/members$",
        rf"^/api/v2/organizations/{SEG}/members/{SEG}/roles$",
        r"^/api/v2/connections$",
        rf"^/api/v2/connections/{SEG}$",
        r"^/api/v2/roles$",
        # adding members resolves each line (orgs.membership)
        r"^/api/v2/users-by-email$",
        rf"^/api/v2/users/{SEG}$",
        # invitations (orgs/invitations.py)
        rf"^/api/v2/organizations/{SEG}/invitations$",
        rf"^/api/v2/organizations/{SEG}/invitations/{SEG}$",
        r"^/api/v2/clients$",
    )
]


def assert_only_intended_upstream_paths(tenant) -> None:
    for call in api_calls(tenant):
        assert any(p.match(call["raw_path"]) for p in ALLOWED_UPSTREAM), call


@pytest.fixture
def acme(tenant) -> str:
    oid = org_id("acme")
    tenant.clear_log()
    return oid


# --- Names: escaped everywhere ------------------------------------------------------------


def test_hostile_organization_names_are_escaped(operator_client, tenant) -> None:
    r = operator_client.get(reverse("orgs:detail", args=[org_id("hostile-html")]))
    body = r.content.decode()
    assert r.status_code == 200
    assert "&lt;img src=x onerror=alert(1)&gt;" in body
    assert "<img src=x" not in body
    assert "alert('metadata')" not in body  # metadata is never shown raw


@pytest.mark.parametrize("name", ["kabushiki", "arabic-rtl", "zero-width", "long-display-name"])
def test_non_latin_zero_width_and_long_names_render(operator_client, tenant, name) -> None:
    org = auth0.get_organization_by_name(name=name)
    r = operator_client.get(reverse("orgs:detail", args=[org.id]))
    assert r.status_code == 200
    assert html.escape(org.display_name, quote=False) in r.content.decode()


def test_organization_list_escapes_names(operator_client, tenant) -> None:
    r = operator_client.get(reverse("orgs:list"))
    body = r.content.decode()
    assert "&lt;img src=x onerror=alert(1)&gt;" in body and "<img src=x" not in body


def test_member_names_are_escaped(operator_client, acme) -> None:
    r = operator_client.get(reverse("orgs:members", args=[acme]), headers=HTMX)
    body = r.content.decode()
    assert "&lt;b&gt;Bob&lt;/b&gt; &lt;script&gt;x&lt;/script&gt;" in body
    assert "<script>x</script>" not in body


def test_role_descriptions_are_escaped(operator_client, acme) -> None:
    url = reverse("orgs:role-picker", args=[acme]) + "?user_id=" + quote("auth0|x", safe="")
    r = operator_client.get(url + "&options=1&q=Billing", headers=HTMX)
    body = r.content.decode()
    assert "&lt;script&gt;alert(&#x27;role&#x27;)&lt;/script&gt;" in body
    assert "<script>alert" not in body


def test_echoed_search_text_is_escaped(operator_client, acme) -> None:
    attack = '"><script>alert(9)</script>'
    r = operator_client.get(reverse("orgs:members", args=[acme]), {"email": attack}, headers=HTMX)
    body = r.content.decode()
    assert "<script>alert(9)" not in body and "&lt;script&gt;alert(9)" in body


# --- Ids in the URL path ------------------------------------------------------------------

HOSTILE_PATH_IDS = [
    "..",
    "../..",
    "%2e%2e%2f",
    "%2e%2e",
    "org_abc%2f..%2f..",
    "org_abc%3Fx%3D1",
    "org_abc%23frag",
    "org_abc%26take%3D1",
    "org_abc%00",
    "org_" + "a" * 300,
    "ORG_abc",
    "org_ａｂｃ",  # full-width letters
    "org_abc%20",
    "con_abc",
]

ROUTES = [
    "/orgs/{org}/",
    "/orgs/{org}/members/",
    "/orgs/{org}/connections/",
    "/orgs/{org}/connections/{con}/",
    "/orgs/{org}/connections/{con}/domain-level/",
    "/orgs/{org}/connections/{con}/remove/",
    "/orgs/{org}/members/roles/?user_id=auth0%7Cx",
    "/orgs/{org}/members/roles/picker/?user_id=auth0%7Cx",
    # adding and removing members (orgs.membership)
    "/orgs/{org}/members/add/form/",
    "/orgs/{org}/members/add/review/",
    "/orgs/{org}/members/add/",
    "/orgs/{org}/members/row/?user_id=auth0%7Cx",
    "/orgs/{org}/members/remove/?user_id=auth0%7Cx",
    # connections: enable (the picker and its POST) and a connection's settings
    "/orgs/{org}/connections/add/",
    "/orgs/{org}/connections/{con}/settings/",
    # invitations
    "/orgs/{org}/invitations/",
    "/orgs/{org}/invitations/new/",
    "/orgs/{org}/invitations/new/roles/",
    "/orgs/{org}/invitations/invite/",
    "/orgs/{org}/invitations/{inv}/",
    "/orgs/{org}/invitations/{inv}/revoke/",
    "/orgs/{org}/invitations/{inv}/resend/",
]


# (where the hostile id goes, route, id): every route with an organization id, and every route
# with a connection id (where a well-formed "con_abc" is not hostile).
PATH_CASES = [
    (where, route, bad)
    for where in ("org", "con", "inv")
    for route in ROUTES
    for bad in HOSTILE_PATH_IDS
    if f"{{{where}}}" in route and not (where == "con" and bad == "con_abc")
]


@pytest.mark.slow  # about 300 cases
@pytest.mark.parametrize(("where", "route", "bad"), PATH_CASES)
def test_hostile_ids_in_paths_never_reach_auth0(
    operator_client, acme, tenant, bad, route, where
) -> None:
    con = auth0.list_enabled_connections(org_id=acme)[0].connection_id
    inv = auth0.list_invitations(org_id=acme).invitations[0].id
    tenant.clear_log()
    values = {"org": acme, "con": con, "inv": inv, where: bad}
    url = route.format(**values)
    for method in ("get", "post"):
        r = getattr(operator_client, method)(url, headers=HTMX)
        assert r.status_code == 404, (method, url, r.status_code)
        assert r["HX-Reswap"] == "none"
        assert "no such page or id (404)" in r.content.decode()
    assert api_calls(tenant) == []


def test_empty_ids_are_404_without_a_call(operator_client, acme, tenant) -> None:
    for url in ("/orgs//", "/orgs/org_/", f"/orgs/{acme}/connections//remove/"):
        r = operator_client.get(url)
        assert r.status_code == 404
    assert api_calls(tenant) == []


def test_hostile_jump_queries(operator_client, tenant) -> None:
    tenant.clear_log()
    for q in ("../organizations", "acme?x=1", "acme#x", "acme&take=1", "a" * 51, "org_x/../y"):
        r = operator_client.get(reverse("orgs:list"), {"q": q}, follow=True)
        assert r.status_code == 200
        assert "Type an organization id" in html.unescape(r.content.decode()), q
    # Only the list page the refusal redirects to: no lookup of the hostile text.
    assert {(c["raw_path"], c["query"]) for c in api_calls(tenant)} == {
        ("/api/v2/organizations", "take=50")
    }


def test_hostile_cursor_stays_one_parameter(operator_client, tenant) -> None:
    """A cursor is opaque: it goes to Auth0 as the `from` value, never as other parameters,
    and Auth0's refusal of it is said on the page."""
    tenant.clear_log()
    cursor = "x&take=100&include_totals=true"
    r = operator_client.get(reverse("orgs:list"), {"from": cursor})
    assert r.status_code == 200
    assert "Auth0 rejected the request (400" in html.unescape(r.content.decode())
    [call] = api_calls(tenant)
    assert call["raw_path"] == "/api/v2/organizations"
    assert parse_qs(call["query"]) == {"take": ["50"], "from": [cursor]}


# --- User ids in forms and query strings --------------------------------------------------

# Well-formed enough to be a user id: sent upstream as exactly one percent-encoded segment.
ODD_USER_IDS = [
    "samlp|acme-saml|jane/doe@acme.example",
    "../../../connections/con_x",
    "auth0|x?fields=user_id#frag",
    "auth0|x&per_page=100",
    "%2e%2e%2fconnections",
    "auth0|ümlaut ok",
]
# Not a user id at all: refused before any call.
INVALID_USER_IDS = ["", " auth0|x", "auth0|x\n", "auth0|\x00x", "a" * 256]


@pytest.mark.parametrize("user_id", ODD_USER_IDS)
def test_odd_user_ids_stay_one_encoded_segment(operator_client, acme, tenant, user_id) -> None:
    role = auth0.list_roles()[0]
    tenant.clear_log()
    operator_client.get(
        reverse("orgs:member-roles", args=[acme]), {"user_id": user_id}, headers=HTMX
    )
    operator_client.post(
        reverse("orgs:assign-roles", args=[acme]),
        {"user_id": user_id, "roles": [role.id]},
        headers=HTMX,
    )
    operator_client.post(
        reverse("orgs:remove-role", args=[acme]),
        {"user_id": user_id, "role": role.id},
        headers=HTMX,
    )
    expected = f"/api/v2/organizations/{acme}/members/{quote(user_id, safe='')}/roles"
    calls = api_calls(tenant)
    assert {"GET", "DELETE"} <= {c["method"] for c in calls}  # non-members: 404 before POST
    assert all(c["raw_path"] == expected for c in calls), calls
    assert_only_intended_upstream_paths(tenant)


@pytest.mark.parametrize("user_id", INVALID_USER_IDS)
def test_invalid_user_ids_are_refused_without_a_call(
    operator_client, acme, tenant, user_id
) -> None:
    role = auth0.list_roles()[0]
    tenant.clear_log()
    responses = [
        operator_client.get(
            reverse("orgs:role-picker", args=[acme]), {"user_id": user_id}, headers=HTMX
        ),
        operator_client.post(
            reverse("orgs:assign-roles", args=[acme]),
            {"user_id": user_id, "roles": [role.id]},
            headers=HTMX,
        ),
        operator_client.post(
            reverse("orgs:remove-role", args=[acme]),
            {"user_id": user_id, "role": role.id},
            headers=HTMX,
        ),
        operator_client.get(
            reverse("orgs:member-row", args=[acme]), {"user_id": user_id}, headers=HTMX
        ),
        operator_client.post(
            reverse("orgs:remove-member", args=[acme]), {"user_id": user_id}, headers=HTMX
        ),
    ]
    outcomes = ["loaded", "changed", "changed", "loaded", "changed"]
    for r, outcome in zip(responses, outcomes, strict=True):
        assert r.status_code == 400 and r["HX-Reswap"] == "none"
        assert f"Nothing was {outcome}" in r.content.decode()
    assert api_calls(tenant) == []


@pytest.mark.parametrize(
    "role", ["", "rol_", "rol_x/../..", "rol_x?y", "con_abc", "rol_" + "a" * 60, "ROL_x"]
)
def test_hostile_role_ids_are_refused_without_a_call(operator_client, acme, tenant, role) -> None:
    tenant.clear_log()
    for name, data in (
        ("orgs:assign-roles", {"user_id": "auth0|x", "roles": [role]}),
        ("orgs:remove-role", {"user_id": "auth0|x", "role": role}),
    ):
        r = operator_client.post(reverse(name, args=[acme]), data, headers=HTMX)
        assert r.status_code == 400, (name, role)
    assert api_calls(tenant) == []


def test_domain_level_value_must_be_true_or_false(operator_client, acme, tenant) -> None:
    con = auth0.list_enabled_connections(org_id=acme)[0].connection_id
    tenant.clear_log()
    url = reverse("connections:domain-level", args=[acme, con])
    for value in ("", "yes", "1", "true&x=1", "TRUE"):
        r = operator_client.post(url, {"is_domain_connection": value}, headers=HTMX)
        assert "Nothing was changed" in r.content.decode()
    assert mutations(tenant) == []


# --- Forged requests and wrong methods ----------------------------------------------------


@pytest.fixture
def csrf_client(operator) -> Client:
    c = Client(enforce_csrf_checks=True)
    c.force_login(operator)
    return c


def _mutating_requests(acme: str, con: str) -> list[tuple[str, dict]]:
    role = auth0.list_roles()[0].id
    return [
        (
            reverse("connections:domain-level", args=[acme, con]),
            {"is_domain_connection": "true"},
        ),
        (reverse("connections:remove", args=[acme, con]), {"name": "x"}),
        (reverse("connections:add", args=[acme]), {"connection_id": con}),
        (reverse("connections:settings", args=[acme, con]), {"show_as_button": "on"}),
        (reverse("orgs:assign-roles", args=[acme]), {"user_id": "auth0|x", "roles": [role]}),
        (reverse("orgs:remove-role", args=[acme]), {"user_id": "auth0|x", "role": role}),
        # adding and removing members (orgs.membership)
        (reverse("orgs:add-members-review", args=[acme]), {"lines": "jane.doe@acme.example"}),
        (reverse("orgs:add-members", args=[acme]), {"review": "0" * 32, "user_id": "auth0|x"}),
        (reverse("orgs:remove-member", args=[acme]), {"user_id": "auth0|x"}),
    ]


@pytest.mark.parametrize("htmx", [True, False])
def test_posts_without_csrf_token_change_nothing(csrf_client, acme, tenant, htmx) -> None:
    con = auth0.list_enabled_connections(org_id=acme)[0].connection_id
    requests = _mutating_requests(acme, con)
    tenant.clear_log()
    for url, data in requests:
        r = csrf_client.post(url, data, headers=HTMX if htmx else {})
        assert r.status_code == 403, url
        assert "security token was missing or stale" in html.unescape(r.content.decode())
    assert api_calls(tenant) == []


def test_posts_with_a_wrong_csrf_token_change_nothing(csrf_client, acme, tenant) -> None:
    con = auth0.list_enabled_connections(org_id=acme)[0].connection_id
    requests = _mutating_requests(acme, con)
    csrf_client.get(reverse("orgs:list"))  # sets the CSRF cookie
    tenant.clear_log()
    for url, data in requests:
        r = csrf_client.post(url, data, headers={**HTMX, "X-CSRFToken": "x" * 32})
        assert r.status_code == 403
    assert api_calls(tenant) == []


@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_wrong_methods_on_actions(operator_client, acme, tenant, method) -> None:
    con = auth0.list_enabled_connections(org_id=acme)[0].connection_id
    tenant.clear_log()
    urls = [reverse("orgs:assign-roles", args=[acme]), reverse("orgs:remove-role", args=[acme])]
    urls += [reverse(n, args=[acme]) for n in ("orgs:add-members-review", "orgs:add-members")]
    if method != "get":  # GET of these is their confirm step
        urls += [
            reverse("connections:domain-level", args=[acme, con]),
            reverse("connections:remove", args=[acme, con]),
            reverse("orgs:remove-member", args=[acme]),
            reverse("connections:add", args=[acme]),
            reverse("connections:settings", args=[acme, con]),
        ]
    for url in urls:
        r = getattr(operator_client, method)(url, headers=HTMX)
        assert r.status_code == 405, (method, url)
    assert mutations(tenant) == []


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_wrong_methods_on_pages(operator_client, acme, tenant, method) -> None:
    tenant.clear_log()
    for url in (
        reverse("orgs:list"),
        reverse("orgs:detail", args=[acme]),
        reverse("connections:list", args=[acme]),
        reverse("orgs:members", args=[acme]),
    ):
        r = getattr(operator_client, method)(url, headers=HTMX)
        assert r.status_code == 405, (method, url)
    assert api_calls(tenant) == []


def test_anonymous_requests_are_sent_to_sign_in(client, acme, tenant) -> None:
    tenant.clear_log()
    for url in (reverse("orgs:list"), reverse("orgs:detail", args=[acme])):
        r = client.get(url)
        assert r.status_code == 302 and "/accounts/login/" in r["Location"]
    r = client.post(reverse("orgs:remove-role", args=[acme]), {"user_id": "a", "role": "rol_x"})
    assert r.status_code in (302, 403)
    assert api_calls(tenant) == []


# --- Names Auth0 would accept from a customer, planted in the sandbox ----------------------

HOSTILE_NAMES = [
    '<script>alert("name")</script>',
    '"><img src=x onerror=alert(3)>',
    "\u202eevil-rtl\u202c and \u200bzero\u200dwidth",
    "x" * 2000,
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_role_and_member_names_are_escaped(operator_client, acme, tenant, name) -> None:
    user_id = "auth0|63d16bb11e39d8a43b8ed0f5"  # Alice, who holds roles in acme
    role_id = auth0.get_member_roles(org_id=acme, user_id=user_id)[0].id
    with tenant.lock:
        tenant.store.roles[role_id]["name"] = name
        tenant.store.users[user_id]["name"] = name
    bodies = [
        operator_client.get(reverse("orgs:members", args=[acme]), headers=HTMX),
        operator_client.get(
            reverse("orgs:member-roles", args=[acme]), {"user_id": user_id}, headers=HTMX
        ),
        operator_client.get(
            reverse("orgs:role-picker", args=[acme]), {"user_id": user_id}, headers=HTMX
        ),
    ]
    for r in bodies:
        body = r.content.decode()
        assert r.status_code == 200
        assert html.escape(name) in body or html.escape(name, quote=False) in body
        assert "<script>alert" not in body and "<img src=x" not in body


@pytest.mark.parametrize(
    "pk", ["99999999999999999999999", "0", "-1", "1.5", "..%2f..", "%2e%2e", "1%3Fx%3D1", ""]
)
def test_hostile_audit_ids(operator_client, tenant, pk) -> None:
    tenant.clear_log()
    for method, path in (("get", f"/audit/{pk}/"), ("post", f"/audit/{pk}/restore/")):
        r = getattr(operator_client, method)(path, headers=HTMX)
        assert r.status_code == 404, (method, path, r.status_code)
    assert api_calls(tenant) == []


@pytest.mark.parametrize(
    "query",
    [
        {"org": "../../x"},
        {"org": "org_x' OR 1=1 --"},
        {"user": "<script>alert(1)</script>"},
        {"action": "delete_everything"},
        {"page": "99999999999999999999"},
        {"page": "-1"},
    ],
)
def test_hostile_audit_filters(operator_client, tenant, query) -> None:
    r = operator_client.get("/audit/", query)
    body = r.content.decode()
    assert r.status_code in (200, 400, 404)
    assert 'data-testid="audit-filter"' in body or 'class="message message-' in body
    assert "<script>alert(1)" not in body and "Traceback" not in body


# --- Adding members: pasted lines (orgs.membership) -----------------------------------------------

HOSTILE_LINES = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>@x.example',
    "auth0|<svg onload=alert(1)>",
    "auth0|../../../users",
    "auth0|x?fields=app_metadata&x=",
    "auth0|x#frag",
    "jane@acme.example\u202e",
    "a" * 400,
    "..",
]


def test_hostile_lines_are_escaped_and_only_sent_validated(operator_client, acme, tenant) -> None:
    """At most one lookup a line, each to an intended path (ids one encoded segment, emails as
    a query value); what the confirm step shows back is escaped."""
    r = operator_client.post(
        reverse("orgs:add-members-review", args=[acme]),
        {"lines": "\n".join(HOSTILE_LINES)},
        headers=HTMX,
    )
    body = r.content.decode()
    assert r.status_code == 200
    assert "<script>" not in body and "<img" not in body and "<svg" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    calls = api_calls(tenant)
    assert len(calls) == 4  # the four user ids; the other lines are neither ids nor emails
    assert_only_intended_upstream_paths(tenant)  # each id one encoded segment of /users/{id}
    assert all(c["raw_path"].startswith("/api/v2/users/auth0%7C") for c in calls)
    assert mutations(tenant) == []
