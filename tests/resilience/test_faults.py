"""Fault suite: every page and every action, against every way the upstream can fail.

Org Desk talks to the sandbox over real HTTP, as to Auth0, and the sandbox answers each request
of the page or action with the fault (400, 401 twice, 403, 404, 409, 429, 500, 502, 503, a body
that is not JSON, JSON of the wrong shape, a dropped connection, an answer cut off halfway after
the change was made, a delay past AUTH0_TIMEOUT; and a refused connection). In every case: no
Django error page and no traceback, a flash message, the page or part stays usable, the audit log
has the attempt of an action with its outcome, and no secret (client secret, access token)
appears in the response or in any log record.
"""

from __future__ import annotations

import logging
import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.urls import reverse

from adminsite import auth0
from adminsite.audit.models import AuditEntry
from adminsite.auth0 import client as auth0_client
from tests.helpers import HTMX, org_id

# 270 cases over real HTTP, some waiting for a timeout: outside the fast loop.
pytestmark = pytest.mark.slow

TIMEOUT = 0.4
SECRET = "sandbox-secret"
MEMBER = "samlp|acme-saml|jane/doe@acme.example"


def _now(fault: dict) -> dict:
    """The fault's keyword arguments, with time-relative values (a callable) computed now."""
    return {key: value() if callable(value) else value for key, value in fault.items()}


def _later(seconds: int) -> dict[str, str]:
    return {
        "x-ratelimit-limit": "50",
        "x-ratelimit-remaining": "0",
        "x-ratelimit-reset": str(int(time.time()) + seconds),
    }


# name -> add_fault keyword arguments (applied to every Management API request)
FAULTS: dict[str, dict] = {
    "400": {
        "status": 400,
        "body": {
            "statusCode": 400,
            "error": "Bad Request",
            "message": "Payload validation error: 'Additional properties not allowed: x'.",
            "errorCode": "invalid_body",
        },
    },
    "401 twice": {"status": 401},
    "403": {"status": 403},
    "404": {"status": 404},
    "409": {
        "status": 409,
        "body": {"statusCode": 409, "error": "Conflict", "message": "Conflicting update"},
    },
    "429": {"status": 429, "headers": lambda: _later(600)},  # reset: from when it is sent
    "500": {"status": 500},
    "502": {"status": 502, "body": "<html><body>502 Bad Gateway</body></html>"},
    "503": {"status": 503},
    "not json": {"status": 200, "body": "<html>maintenance</html>"},
    "wrong shape": {"status": 200, "body": {"unexpected": ["shape"], "id": 7}},
    "dropped": {"drop": True},
    "cut mid-response": {"truncate": True},
    "timeout": {"delay": TIMEOUT + 0.4},
    "refused": {},  # Org Desk is pointed at a closed port instead
}


@dataclass
class Case:
    name: str
    method: str
    url: Callable[[dict], str]
    data: Callable[[dict], dict] | None = None
    htmx: bool = True
    action: str | None = None  # the audit action an attempt records
    warm: Callable[[object, dict], object] | None = None  # done before the fault
    # Reads the connection index (the strategy decides the rules) before the change: pointed at
    # a closed port ("refused") the index is another tenant's, cold, so nothing is attempted.
    needs_index: bool = False


def _confirm_remove(client, ctx: dict) -> None:
    client.get(reverse("connections:remove", args=[ctx["org"], ctx["con"]]), headers=HTMX)


def _confirm_domain_level(client, ctx: dict) -> None:
    """The confirm step: it reads the row (the proof that the organization has the connection)
    and warms the connection index, so the faults hit the change itself."""
    client.get(reverse("connections:domain-level", args=[ctx["org"], ctx["con"]]), headers=HTMX)


def _removed_entry(client, ctx: dict) -> None:
    _confirm_remove(client, ctx)
    client.post(reverse("connections:remove", args=[ctx["org"], ctx["con"]]), headers=HTMX)
    ctx["entry"] = AuditEntry.objects.get(action="remove_connection", outcome="success").pk


def _reviewed(client, ctx: dict) -> None:
    """The add's confirm step for someone who is not a member of Acme (orgs.membership)."""
    outsider = auth0.list_members(org_id=org_id("big-co"), take=1).members[0]
    r = client.post(
        reverse("orgs:add-members-review", args=[ctx["org"]]),
        {"lines": outsider.user_id},
        headers=HTMX,
    )
    found = re.search(r'name="review" value="([0-9a-f]{32})"', r.content.decode())
    assert found is not None
    ctx["review"], ctx["outsider"] = found.group(1), outsider.user_id


def _confirm_remove_member(client, ctx: dict) -> None:
    client.get(reverse("orgs:remove-member", args=[ctx["org"]]), {"user_id": MEMBER}, headers=HTMX)


def _removed_member(client, ctx: dict) -> None:
    """Another member than the "remove member" case's: a DELETE that case's timeout left
    running in the sandbox may still land after the next tests have started."""
    alice = "auth0|63d16bb11e39d8a43b8ed0f5"
    client.post(reverse("orgs:remove-member", args=[ctx["org"]]), {"user_id": alice}, headers=HTMX)
    ctx["entry"] = AuditEntry.objects.get(action="remove_member", outcome="success").pk


def _open_picker(client, ctx: dict) -> None:
    """The "Add connection…" step: reads the organization's connections (kept per person)
    and warms the connection index, so the faults hit the POST itself."""
    client.get(reverse("connections:add", args=[ctx["org"]]), headers=HTMX)


def _open_edit(client, ctx: dict) -> None:
    client.get(reverse("connections:settings", args=[ctx["org"], ctx["okta"]]), headers=HTMX)


def _confirm_revoke(client, ctx: dict) -> None:
    client.get(reverse("orgs:revoke-invitation", args=[ctx["org"], ctx["inv"]]), headers=HTMX)


def _revoked_entry(client, ctx: dict) -> None:
    _confirm_revoke(client, ctx)
    client.post(reverse("orgs:revoke-invitation", args=[ctx["org"], ctx["inv"]]), headers=HTMX)
    ctx["entry"] = AuditEntry.objects.get(action="revoke_invitation", outcome="success").pk


def _invitation(ctx: dict) -> dict:
    return {
        "email": "f@example.org",
        "client_id": ctx["client"],
        "ttl_days": 7,
        "delivery": "email",
    }


def _member_roles(ctx: dict) -> str:
    return f"user_id={MEMBER.replace('|', '%7C').replace('/', '%2F').replace('@', '%40')}"


CASES = [
    Case("organization list", "get", lambda c: reverse("orgs:list"), htmx=False),
    Case(
        "next page of organizations",
        "get",
        lambda c: reverse("orgs:list") + "?from=" + c["next"],
        htmx=False,
    ),  # noqa: E501
    Case("jump to organization", "get", lambda c: reverse("orgs:list") + "?q=acme", htmx=False),
    Case("organization page", "get", lambda c: reverse("orgs:detail", args=[c["org"]]), htmx=False),  # noqa: E501
    Case("connections part", "get", lambda c: reverse("connections:list", args=[c["org"]])),
    Case("connection row", "get", lambda c: reverse("connections:row", args=[c["org"], c["con"]])),  # noqa: E501
    Case(
        "confirm domain-level",
        "get",
        lambda c: reverse("connections:domain-level", args=[c["org"], c["con"]]),
    ),  # noqa: E501
    Case(
        "confirm remove", "get", lambda c: reverse("connections:remove", args=[c["org"], c["con"]])
    ),  # noqa: E501
    Case("members part", "get", lambda c: reverse("orgs:members", args=[c["org"]])),
    Case(
        "find member by email",
        "get",
        lambda c: reverse("orgs:members", args=[c["org"]]) + "?email=jane.doe%40acme.example",
    ),  # noqa: E501
    Case(
        "member roles",
        "get",
        lambda c: reverse("orgs:member-roles", args=[c["org"]]) + "?" + _member_roles(c),
    ),  # noqa: E501
    Case(
        "role picker",
        "get",
        lambda c: reverse("orgs:role-picker", args=[c["org"]]) + "?" + _member_roles(c),
    ),  # noqa: E501
    Case(
        "role search",
        "get",
        lambda c: (
            reverse("orgs:role-picker", args=[c["org"]]) + "?options=1&q=Eng&" + _member_roles(c)
        ),
    ),  # noqa: E501
    Case(
        "toggle domain-level",
        "post",
        lambda c: reverse("connections:domain-level", args=[c["org"], c["con"]]),
        lambda c: {"is_domain_connection": "true"},
        action="domain_level",
        warm=_confirm_domain_level,
    ),
    Case(
        "remove connection",
        "post",
        lambda c: reverse("connections:remove", args=[c["org"], c["con"]]),
        lambda c: {"name": "x"},
        action="remove_connection",
        warm=_confirm_remove,
    ),
    Case(
        "assign roles",
        "post",
        lambda c: reverse("orgs:assign-roles", args=[c["org"]]),
        lambda c: {"user_id": MEMBER, "roles": [c["role"]]},
        action="assign_roles",
    ),
    Case(
        "remove role",
        "post",
        lambda c: reverse("orgs:remove-role", args=[c["org"]]),
        lambda c: {"user_id": MEMBER, "role": c["role"]},
        action="remove_role",
    ),
    # connections: enable one, change one's settings
    Case("add connection step", "get", lambda c: reverse("connections:add", args=[c["org"]])),
    Case(
        "enable connection",
        "post",
        lambda c: reverse("connections:add", args=[c["org"]]),
        lambda c: {"connection_id": c["new_con"]},
        action="enable_connection",
        warm=_open_picker,
        needs_index=True,
    ),
    Case(
        "edit settings step",
        "get",
        lambda c: reverse("connections:settings", args=[c["org"], c["okta"]]),
    ),
    Case(
        "save settings",
        "post",
        lambda c: reverse("connections:settings", args=[c["org"], c["okta"]]),
        lambda c: {"show_as_button": "on"},
        action="update_connection",
        warm=_open_edit,
    ),
    # invitations (orgs/invitations.py)
    Case("invitations part", "get", lambda c: reverse("orgs:invitations", args=[c["org"]])),
    Case("invite form", "get", lambda c: reverse("orgs:invite-form", args=[c["org"]])),
    Case(
        "confirm revoke",
        "get",
        lambda c: reverse("orgs:revoke-invitation", args=[c["org"], c["inv"]]),
    ),
    Case(
        "invite",
        "post",
        lambda c: reverse("orgs:invite", args=[c["org"]]),
        _invitation,
        action="invite",
    ),
    Case(
        "revoke invitation",
        "post",
        lambda c: reverse("orgs:revoke-invitation", args=[c["org"], c["inv"]]),
        lambda c: {},
        action="revoke_invitation",
        warm=_confirm_revoke,
    ),
    Case(
        "resend invitation",
        "post",
        lambda c: reverse("orgs:resend-invitation", args=[c["org"], c["inv"]]),
        lambda c: {},
        action="resend_invitation",
    ),
    Case(
        "restore invitation",
        "post",
        lambda c: reverse("audit:restore", args=[c["entry"]]),
        lambda c: {},
        htmx=False,
        action="restore_invitation",
        warm=_revoked_entry,
    ),
    Case(
        "restore connection",
        "post",
        lambda c: reverse("audit:restore", args=[c["entry"]]),
        lambda c: {},
        htmx=False,
        action="restore_connection",
        warm=_removed_entry,
    ),
    # adding and removing members (orgs.membership)
    Case("add members form", "get", lambda c: reverse("orgs:add-members-form", args=[c["org"]])),
    Case(
        "add members review",
        "post",
        lambda c: reverse("orgs:add-members-review", args=[c["org"]]),
        lambda c: {"lines": "jane.doe@acme.example"},
    ),
    Case(
        "add members",
        "post",
        lambda c: reverse("orgs:add-members", args=[c["org"]]),
        lambda c: {"review": c["review"], "user_id": c["outsider"]},
        action="add_members",
        warm=_reviewed,
    ),
    Case(
        "confirm remove member",
        "get",
        lambda c: reverse("orgs:remove-member", args=[c["org"]]) + "?" + _member_roles(c),
    ),
    Case(
        "remove member",
        "post",
        lambda c: reverse("orgs:remove-member", args=[c["org"]]),
        lambda c: {"user_id": MEMBER},
        action="remove_member",
        warm=_confirm_remove_member,
    ),
    Case(
        "restore member",
        "post",
        lambda c: reverse("audit:restore", args=[c["entry"]]),
        lambda c: {},
        htmx=False,
        action="restore_member",
        warm=_removed_member,
    ),
]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when this returns


@pytest.fixture
def ctx(http_tenant, settings) -> dict:
    settings.AUTH0_TIMEOUT = TIMEOUT
    org = org_id("acme")
    return {
        "org": org,
        "con": auth0.list_enabled_connections(org_id=org)[0].connection_id,
        "okta": next(
            e.connection_id
            for e in auth0.list_enabled_connections(org_id=org)
            if e.name == "okta-workforce"
        ),
        "new_con": next(c.id for c in auth0.list_connections() if c.name == "partners-db"),
        "role": auth0.list_roles()[0].id,
        "next": auth0.list_organizations(take=50).next or "",
        "inv": auth0.list_invitations(org_id=org).invitations[0].id,
        "client": next(c.client_id for c in auth0.list_clients() if c.accepts_invitations),
    }


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_fault(operator_client, http_tenant, settings, ctx, caplog, case: Case, fault: str) -> None:
    caplog.set_level(logging.DEBUG)
    if case.warm:
        case.warm(operator_client, ctx)
    access_token = _current_access_token()
    before = AuditEntry.objects.count()
    http_tenant.clear_log()
    if fault == "refused":
        settings.AUTH0_BASE_URL = f"http://127.0.0.1:{_closed_port()}"
    else:
        http_tenant.add_fault(path=r"^/api/v2/", times=None, **_now(FAULTS[fault]))

    send = getattr(operator_client, case.method)
    args = {"data": case.data(ctx)} if case.data else {}
    r = send(case.url(ctx), headers=HTMX if case.htmx else {}, follow=not case.htmx, **args)
    http_tenant.clear_faults()
    body = r.content.decode()

    # No error page, no traceback; the person is told what happened.
    assert r.status_code < 500, (r.status_code, body[:500])
    assert "Traceback" not in body and "Exception Value" not in body
    assert "message-error" in body or "message-warning" in body, body[:2000]
    # The page or part stays usable.
    if case.htmx:
        assert (
            r.get("HX-Reswap") == "none"
            or "could not be loaded" in body
            or (fault == "404" and "message-warning" in body)
        ), body[:1000]
    else:
        assert 'id="messages"' in body and "Org Desk" in body
    # An action's attempt is in the audit log with its outcome; a page view changes nothing.
    if case.action and case.needs_index and fault == "refused":
        assert AuditEntry.objects.count() == before  # refused before the change: no attempt
    elif case.action:
        entries = AuditEntry.objects.filter(action=case.action).order_by("-id")
        assert AuditEntry.objects.count() == before + 1
        entry = entries[0]
        assert entry.outcome in ("failed", "not_sent"), (entry.outcome, entry.message)
        assert entry.finished_at is not None
    else:
        assert AuditEntry.objects.count() == before
    # No secret anywhere.
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for secret in filter(None, [SECRET, access_token]):
        assert secret not in body
        assert secret not in logged
        if case.action and AuditEntry.objects.count() > before:
            assert secret not in str(entry.__dict__)


def _current_access_token() -> str:
    """The access token Org Desk holds now (fetched if needed), to look for it in outputs."""
    return auth0_client._access_token()
