"""Bad ids and cursors in every GET route: a 4xx with a message (or a clean page), never a 500.

The sweep puts each bad value in each id or cursor parameter of each GET route of the site,
plain and as htmx, and checks that the answer is there: a message, or the page it belongs to.
"""

from __future__ import annotations

import html
import logging
from urllib.parse import quote, urlencode

import pytest
from django.urls import reverse

from adminsite import auth0
from adminsite.audit.models import Action, AuditEntry, Outcome
from tests.helpers import HTMX, api_calls, org_id

BAD_VALUES = {
    "dot-dot": "..",
    "dot": ".",
    "empty": "",
    "trailing-newline": "abc\n",
    "control-chars": "a\x01b\x7fc\x1b",
    "2000-chars": "a" * 2000,
    "nul": "\x00",
}
ORG = "org_PLACEHOLDER0"
CON = "con_PLACEHOLDER0"


@pytest.fixture
def ids(tenant) -> dict[str, str]:
    acme = org_id("acme")
    member = auth0.list_members(org_id=acme).members[0]
    connection = auth0.list_enabled_connections(org_id=acme)[0]
    invitation = auth0.list_invitations(org_id=acme).invitations[0]
    entry = AuditEntry.objects.create(
        username="olivia",
        action=Action.REMOVE_ROLE,
        org_id=acme,
        member_id=member.user_id,
        outcome=Outcome.SUCCESS,
    )
    return {
        "org": acme,
        "con": connection.connection_id,
        "user": member.user_id,
        "entry": str(entry.pk),
        "inv": invitation.id,
    }


# Each GET route: how to build its URL from (path values, query), what a good answer shows,
# and which query parameters carry an id or a cursor.
ROUTES: dict[str, tuple[str, tuple[str, ...], str, tuple[str, ...]]] = {
    # name: (url name, path args (keys of `ids`), marker of its page or part, query params)
    "organizations": ("orgs:list", (), 'id="org-table"', ("from", "q")),
    "organization": ("orgs:detail", ("org",), 'data-testid="org-display-name"', ()),
    "members": ("orgs:members", ("org",), 'id="member-list"', ("from", "email")),
    "member-roles": ("orgs:member-roles", ("org",), 'data-testid="roles-cell"', ("user_id",)),
    "role-picker": ("orgs:role-picker", ("org",), 'data-testid="role-picker"', ("user_id", "q")),
    "role-options": ("orgs:role-picker", ("org",), 'class="role-options"', ("user_id", "q")),
    "connections": ("connections:list", ("org",), 'id="connection-list"', ()),
    "connection-row": ("connections:row", ("org", "con"), 'data-testid="connection-row"', ()),
    "domain-level-step": ("connections:domain-level", ("org", "con"), "<form", ()),
    "remove-step": ("connections:remove", ("org", "con"), "<form", ()),
    # adding and removing members (orgs.membership)
    "add-members-form": (
        "orgs:add-members-form",
        ("org",),
        'data-testid="add-members-form"',
        ("q",),
    ),
    "member-row": ("orgs:member-row", ("org",), 'data-testid="member-row"', ("user_id",)),
    "remove-member-step": (
        "orgs:remove-member",
        ("org",),
        'data-testid="confirm-remove-member"',
        ("user_id",),
    ),
    # connections: the "Add connection…" step (picker, filter, settings) and edit step
    "add-connection": (
        "connections:add",
        ("org",),
        'data-testid="add-connection"',
        ("q", "connection_id", "step"),
    ),
    "edit-settings": ("connections:settings", ("org", "con"), 'data-testid="edit-settings"', ()),
    # invitations (orgs/invitations.py)
    "invitations": ("orgs:invitations", ("org",), 'id="invitation-list"', ("page",)),
    "invite-form": ("orgs:invite-form", ("org",), 'data-testid="invite-form"', ()),
    "invite-roles": ("orgs:invite-roles", ("org",), 'class="role-options"', ("q", "roles")),
    "invitation-row": ("orgs:invitation-row", ("org", "inv"), 'data-testid="invitation-row"', ()),
    "revoke-step": ("orgs:revoke-invitation", ("org", "inv"), 'data-testid="confirm-revoke"', ()),
    "audit-list": ("audit:list", (), 'data-testid="audit-filter"', ("org", "user", "page")),
    "audit-detail": ("audit:detail", ("entry",), 'data-testid="audit-detail"', ()),
}
PLACEHOLDERS = {"org": ORG, "con": CON, "entry": "987654321", "inv": "uinv_PLACEHOLDER0"}
MESSAGE = 'class="message message-'


def _url(route: str, ids: dict[str, str], bad: tuple[str, str] | None) -> str:
    """The route's URL with good values, or with `bad` = (parameter, value) in its place."""
    url_name, path_args, _, params = ROUTES[route]
    url = reverse(url_name, args=[PLACEHOLDERS[a] for a in path_args])
    for arg in path_args:  # path segments are replaced after reverse: converters refuse them
        value = bad[1] if bad and bad[0] == arg else ids[arg]
        url = url.replace(PLACEHOLDERS[arg], quote(value, safe=""))
    query = {"user_id": ids["user"]} if "user_id" in params else {}
    if route == "role-options":
        query["options"] = "1"
    if bad and bad[0] not in path_args:
        query[bad[0]] = bad[1]
    return url + ("?" + urlencode(query) if query else "")


def _cases() -> list[tuple[str, str, str]]:
    cases = []
    for route, (_, path_args, _, params) in ROUTES.items():
        for param in (*path_args, *params):
            cases += [(route, param, name) for name in BAD_VALUES]
    return cases


@pytest.mark.slow  # about 800 requests
@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
@pytest.mark.parametrize(("route", "param", "value"), _cases())
def test_bad_values_never_give_a_500(operator_client, ids, caplog, route, param, value, htmx):
    marker = ROUTES[route][2]
    url = _url(route, ids, (param, BAD_VALUES[value]))
    headers = HTMX if htmx else {}
    if htmx and route == "organizations":
        headers = HTMX | {"HX-Target": "org-table"}
    with caplog.at_level(logging.ERROR):
        r = operator_client.get(url, headers=headers, follow=not htmx)
    body = html.unescape(r.content.decode())
    assert r.status_code < 500, (url, r.status_code)
    assert not [rec for rec in caplog.records if rec.exc_info], "a traceback was logged"
    if 400 <= r.status_code < 500:
        if htmx:  # the page stays as it is; the message says why
            assert MESSAGE in body and r["HX-Reswap"] == "none", body
        else:  # a page that says what happened
            assert MESSAGE in body or "Not found (404)" in body, body
    else:
        assert r.status_code == 200
        if not htmx and r.redirect_chain:  # a part asked as a page: the page it belongs to
            marker = 'data-testid="org-display-name"'
        assert MESSAGE in body or marker in body, body  # the page or part, or why not


def test_the_sweep_can_tell_a_good_answer(operator_client, ids) -> None:
    """Every route answers its good values with its page or part (the markers are right)."""
    for route, (_, _, marker, _) in ROUTES.items():
        if route in ("organizations", "audit-list"):
            r = operator_client.get(_url(route, ids, None))
        else:
            r = operator_client.get(_url(route, ids, None), headers=HTMX)
        assert r.status_code == 200 and marker in r.content.decode(), route
        assert MESSAGE not in r.content.decode(), route


@pytest.mark.parametrize("user_id", ["..", ".", "auth0|x\n", "a" * 2000])
@pytest.mark.parametrize("route", ["orgs:member-roles", "orgs:role-picker"])
def test_bad_user_ids_are_a_400_with_a_message_and_no_call(
    operator_client, tenant, route, user_id
) -> None:
    acme = org_id("acme")
    tenant.clear_log()
    r = operator_client.get(reverse(route, args=[acme]), {"user_id": user_id}, headers=HTMX)
    assert r.status_code == 400 and r["HX-Reswap"] == "none"
    assert "Nothing was loaded: That is not a valid user id." in r.content.decode() or (
        "at most 255 characters" in r.content.decode()
    )
    plain = operator_client.get(reverse(route, args=[acme]), {"user_id": user_id})
    assert plain.status_code == 400 and 'data-testid="refused"' in plain.content.decode()
    assert "Nothing was loaded" in plain.content.decode()
    assert api_calls(tenant) == []


def test_the_form_and_the_service_module_share_one_user_id_rule() -> None:
    from orgs.forms import MemberForm

    for value in ["..", ".", "auth0|x\n", "a\x85b", "auth0|ok", "samlp|a|b/c@d", "x" * 255]:
        assert MemberForm({"user_id": value}).is_valid() == auth0.is_user_id(value), value
