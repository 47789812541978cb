"""Invitations: the list, inviting, revoking, resending, through the views.

Upstream calls are counted with the sandbox's request log: list 1; invite form 2 (+1 for the
application list, cached); invite 1 + 1 refresh; revoke 1 read at the confirm step + 1 DELETE;
resend 1 read + 1 DELETE + 1 POST.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from adminsite import auth0
from adminsite.audit.models import Action, AuditEntry, Outcome
from adminsite.sandbox.tenant import ALL_SCOPES
from tests.helpers import HTMX, api_calls, mutations, org_id


@pytest.fixture
def acme(tenant) -> str:
    return org_id("acme")


def _pending(acme: str) -> list[auth0.Invitation]:
    return auth0.list_invitations(org_id=acme).invitations


def _d(state: object) -> dict:
    """An audit state, which these tests expect to be a dict."""
    assert isinstance(state, dict)
    return state


def _by_email(acme: str, email: str) -> auth0.Invitation:
    return next(i for i in _pending(acme) if i.invitee_email == email)


def _apps() -> dict[str, auth0.Client]:
    return {c.name: c for c in auth0.list_clients()}


def _paths(tenant) -> list[tuple[str, str]]:
    return [(c["method"], c["raw_path"]) for c in api_calls(tenant)]


def _invite_data(client_id: str, **extra) -> dict:
    return {
        "email": "new.person@example.org",
        "client_id": client_id,
        "ttl_days": "7",
        "delivery": "email",
        **extra,
    }


def _open_form(client, acme: str) -> str:
    r = client.get(reverse("orgs:invite-form", args=[acme]), headers=HTMX)
    assert r.status_code == 200
    return r.content.decode()


# --- The list -----------------------------------------------------------------------------------


def test_list_is_one_call_and_marks_expired_invitations(operator_client, tenant, acme) -> None:
    tenant.clear_log()
    r = operator_client.get(reverse("orgs:invitations", args=[acme]), headers=HTMX)
    body = r.content.decode()
    assert _paths(tenant) == [("GET", f"/api/v2/organizations/{acme}/invitations")]
    assert body.count('data-testid="invitation-row"') == 4
    for email in ("new.hire@acme.example", "contractor@partner.example", "jane@acme.example"):
        assert email in body
    late = re.search(r'<tr id="inv-[^"]+"[^>]*class="expired".*?</tr>', body, re.S)
    assert late is not None and "late.joiner@acme.example" in late.group(0)
    assert ">Expired</span>" in late.group(0)
    assert body.count(">Expired</span>") == 1  # in words, only on the expired one
    # the seeded hostile inviter is text, not markup
    assert "&lt;i&gt;Mallory&lt;/i&gt;" in body and "<i>Mallory</i>" not in body


def test_each_rows_actions_are_the_urls_reverse_gives(operator_client, tenant, acme) -> None:
    """A row looks its URL up once and its actions' are under it: each is what reverse() gives."""
    r = operator_client.get(reverse("orgs:invitations", args=[acme]), headers=HTMX)
    body = r.content.decode()
    invitations = auth0.list_invitations(org_id=acme).invitations
    assert invitations
    for inv in invitations:
        resend = reverse("orgs:resend-invitation", args=[acme, inv.id])
        revoke = reverse("orgs:revoke-invitation", args=[acme, inv.id])
        assert f'hx-post="{resend}"' in body and f'hx-get="{revoke}"' in body


def test_rows_show_when_in_utc_as_the_date_filter_would(operator_client, tenant, acme) -> None:
    """Created and expires, made in Python (orgs.invitations.shown_time): the same text as
    Django's `date:'c'` and `date:"Y-m-d H:i"` in UTC, whatever the offset Auth0 sent."""
    from django.template.defaultfilters import date as date_filter
    from django.utils import timezone

    from orgs.invitations import shown_time

    moment = datetime(2026, 11, 30, 5, 4, 3, 120000, tzinfo=UTC)
    shown = shown_time(moment)
    assert shown is not None
    assert shown.iso == date_filter(moment, "c") == "2026-11-30T05:04:03.120000+00:00"
    assert shown.text == date_filter(moment, "Y-m-d H:i") == "2026-11-30 05:04"
    assert shown_time(moment.astimezone(timezone.get_fixed_timezone(120))) == shown
    assert shown_time(None) is None
    body = operator_client.get(reverse("orgs:invitations", args=[acme]), headers=HTMX)
    body = body.content.decode()
    invitation = _by_email(acme, "contractor@partner.example")
    assert invitation.created_at is not None and invitation.expires_at is not None
    for when in (invitation.created_at, invitation.expires_at):
        utc = when.astimezone(UTC)
        assert f'<time datetime="{utc.isoformat()}">{utc:%Y-%m-%d %H:%M}</time>' in body


def test_list_names_roles_and_connections_it_already_knows(operator_client, tenant, acme):
    from orgs import names

    # names Org Desk has read (the members part and the role picker fill this index)
    names.remember(
        roles=[*auth0.list_roles(name_filter="Billing"), *auth0.list_roles(name_filter="Read Only")]
    )
    auth0.domain_connection_index()  # the connections part fills this cache
    tenant.clear_log()
    body = operator_client.get(
        reverse("orgs:invitations", args=[acme]), headers=HTMX
    ).content.decode()
    assert len(api_calls(tenant)) == 1
    found = re.search(r"contractor@partner\.example.*?</tr>", body, re.S)
    assert found is not None
    row = found.group(0)
    assert "Billing Viewer" in row and "Read Only" in row
    assert "Username-Password-Authentication" in row


def test_list_pages_with_auth0s_offset_paging(operator_client, tenant, acme) -> None:
    client = _apps()["Acme Dashboard"].client_id
    for n in range(50):
        auth0.create_invitation(
            org_id=acme, inviter_name="Bulk", invitee_email=f"p{n}@example.org", client_id=client
        )
    url = reverse("orgs:invitations", args=[acme])
    first = operator_client.get(url, headers=HTMX).content.decode()
    assert first.count('data-testid="invitation-row"') == 50
    assert "?page=1" in first and "Next →" in first and "← Previous" not in first
    tenant.clear_log()
    second = operator_client.get(url, {"page": "1"}, headers=HTMX).content.decode()
    assert second.count('data-testid="invitation-row"') == 4
    assert "← Previous" in second and "Next →" not in second
    [call] = api_calls(tenant)
    assert "page=1" in call["query"] and "per_page=50" in call["query"]


def test_list_failure_says_so_and_offers_a_retry(operator_client, tenant, acme) -> None:
    tenant.add_fault(path="/invitations", status=503)
    body = operator_client.get(
        reverse("orgs:invitations", args=[acme]), headers=HTMX
    ).content.decode()
    assert "The invitations could not be loaded." in body and "Try again" in body
    assert 'class="message message-error' in body


def test_list_of_an_organization_without_invitations(operator_client, tenant) -> None:
    body = operator_client.get(
        reverse("orgs:invitations", args=[org_id("big-co")]), headers=HTMX
    ).content.decode()
    assert "No pending invitations for this organization." in body


@pytest.mark.parametrize("page", ["-1", "x", "1e3", "99999"])
def test_bad_page_numbers_are_refused_without_a_call(operator_client, tenant, acme, page):
    tenant.clear_log()
    r = operator_client.get(reverse("orgs:invitations", args=[acme]), {"page": page}, headers=HTMX)
    assert r.status_code == 400 and r["HX-Reswap"] == "none"
    assert api_calls(tenant) == []


def test_the_organization_page_loads_the_part(operator_client, tenant, acme) -> None:
    body = operator_client.get(reverse("orgs:detail", args=[acme])).content.decode()
    assert 'id="invitations"' in body
    assert f'hx-get="{reverse("orgs:invitations", args=[acme])}"' in body
    assert "Invite…" in body


# --- The invite form: which applications --------------------------------------------------------


def test_form_offers_applications_that_accept_invitations(operator_client, tenant, acme):
    tenant.clear_log()
    body = _open_form(operator_client, acme)
    paths = [p for _, p in _paths(tenant)]
    assert sorted(paths) == sorted(
        ["/api/v2/clients", f"/api/v2/organizations/{acme}/enabled_connections", "/api/v2/roles"]
    )
    for name in ("Acme Customer Portal", "Acme Dashboard", "Acme Mobile"):
        assert f">{name}</option>" in body
    for name in ("Billing Sync (M2M)", "Org Desk", "All Applications", "Legacy Intranet"):
        assert name not in body  # machine-to-machine, global, and without a type
    assert "&lt;b&gt;Partner&lt;/b&gt; Portal &lt;script&gt;" in body  # escaped
    assert "Username-Password-Authentication (auth0)" in body  # the organization's connections
    tenant.clear_log()
    _open_form(operator_client, acme)
    assert len(api_calls(tenant)) == 2  # the application list is cached


def test_form_says_what_to_configure_without_read_clients(operator_client, tenant, acme):
    tenant.set_scopes([s for s in ALL_SCOPES if "client" not in s])
    body = _open_form(operator_client, acme)
    assert 'data-testid="invite-app-problem"' in body
    assert "read:clients" in body and "AUTH0_INVITE_CLIENT_ID" in body
    assert re.search(r'<button type="submit" class="primary" disabled>', body)


def test_configured_application_is_the_only_one_and_needs_no_scope(
    operator_client, tenant, acme, settings
) -> None:
    mobile = _apps()["Acme Mobile"].client_id
    settings.AUTH0_INVITE_CLIENT_ID = mobile
    tenant.set_scopes([s for s in ALL_SCOPES if "client" not in s])
    tenant.clear_log()
    body = _open_form(operator_client, acme)
    assert "/api/v2/clients" not in [p for _, p in _paths(tenant)]
    assert "set by AUTH0_INVITE_CLIENT_ID" in body and mobile in body
    assert '<select id="invite-client"' not in body
    # whatever the browser posts, the configured application is used
    other = "someOtherClient123"
    tenant.clear_log()
    operator_client.post(reverse("orgs:invite", args=[acme]), _invite_data(other), headers=HTMX)
    [post] = mutations(tenant)
    assert post["json"]["client_id"] == mobile


# --- Inviting -----------------------------------------------------------------------------------


def test_invite_by_email(operator_client, operator, tenant, acme) -> None:
    operator.first_name, operator.last_name = "Olivia", "Ops"
    operator.save()
    _open_form(operator_client, acme)
    dashboard = _apps()["Acme Dashboard"].client_id
    conn = auth0.list_enabled_connections(org_id=acme)[0]
    roles = [r.id for r in auth0.list_roles()[:2]]
    tenant.clear_log()
    data = _invite_data(dashboard, connection_id=conn.connection_id, roles=roles, ttl_days="30")
    r = operator_client.post(reverse("orgs:invite", args=[acme]), data, headers=HTMX)
    body = r.content.decode()
    assert _paths(tenant) == [
        ("POST", f"/api/v2/organizations/{acme}/invitations"),
        ("GET", f"/api/v2/organizations/{acme}/invitations"),  # the refreshed part
    ]
    [post] = mutations(tenant)
    assert post["json"] == {
        "inviter": {"name": "Olivia Ops"},
        "invitee": {"email": "new.person@example.org"},
        "client_id": dashboard,
        "connection_id": conn.connection_id,
        "roles": roles,
        "ttl_sec": 30 * 86400,
        "send_invitation_email": True,
    }
    assert 'id="invitation-list"' in body and "new.person@example.org" in body
    assert "Invited new.person@example.org to this organization; sent the email." in body
    assert 'id="invite-form" hx-swap-oob="true"></div>' in body  # the form closes
    assert "invitation=" not in body  # no link shown when the email is sent
    entry = AuditEntry.objects.get(action=Action.INVITE)
    assert entry.outcome == Outcome.SUCCESS and entry.username == "olivia"
    assert entry.requested == {
        "invitee": "new.person@example.org",
        "client_id": dashboard,
        "connection_id": conn.connection_id,
        "roles": roles,
        "ttl_sec": 30 * 86400,
        "send_invitation_email": True,
    }
    new = _by_email(acme, "new.person@example.org")
    assert _d(entry.after)["invitation_id"] == new.id and _d(entry.after)["ttl_sec"] == 30 * 86400
    assert [r["id"] for r in entry.roles] == roles and all(r["name"] for r in entry.roles)


def test_invite_for_a_link_shows_it_once_and_never_records_it(
    operator_client, tenant, acme, caplog
) -> None:
    _open_form(operator_client, acme)
    portal = _apps()["Acme Customer Portal"].client_id
    with caplog.at_level(logging.DEBUG):
        r = operator_client.post(
            reverse("orgs:invite", args=[acme]),
            _invite_data(portal, delivery="link"),
            headers=HTMX,
        )
    body = r.content.decode()
    new = _by_email(acme, "new.person@example.org")
    assert new.invitation_url and new.ticket_id
    assert 'data-testid="invite-link"' in body and 'data-copy="invite-link-url"' in body
    assert f'value="{new.invitation_url.replace("&", "&amp;")}"' in body
    assert "readonly" in body and "here is the link to copy" in body
    [post] = mutations(tenant)
    assert post["json"]["send_invitation_email"] is False
    entry = AuditEntry.objects.get(action=Action.INVITE)
    stored = json.dumps([entry.before, entry.requested, entry.after, entry.message])
    assert new.ticket_id not in stored and "invitation_url" not in stored
    assert new.ticket_id not in caplog.text
    # the list never shows links either
    listed = operator_client.get(
        reverse("orgs:invitations", args=[acme]), headers=HTMX
    ).content.decode()
    assert new.ticket_id not in listed


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"ttl_days": "31"}, "at most 30 days"),
        ({"ttl_days": "0"}, "at least 1 day"),
        ({"ttl_days": "7.5"}, "whole number of days"),
        ({"roles": [f"rol_{n:016d}" for n in range(51)]}, "Pick at most 50 roles."),
        ({"email": "not-an-email"}, "That is not an email address."),
        ({"email": "<script>alert(1)</script>@x.example"}, "That is not an email address."),
        ({"email": ""}, "Give the email address to invite."),
        ({"connection_id": "../con_x"}, "Pick the connection from the list"),
        ({"roles": ["admin"]}, "Pick roles from the list"),
        ({"delivery": "fax"}, "Choose: send the email, or just the link."),
        ({"client_id": "a/b"}, "Pick the application from the list."),
    ],
)
def test_refused_before_any_call(operator_client, tenant, acme, change, problem) -> None:
    portal = _apps()["Acme Customer Portal"].client_id
    tenant.clear_log()
    r = operator_client.post(
        reverse("orgs:invite", args=[acme]), {**_invite_data(portal), **change}, headers=HTMX
    )
    body = r.content.decode()
    assert r.status_code == 400 and r["HX-Reswap"] == "none"
    assert "Nothing was changed" in body and problem in body
    assert "<script>alert" not in body
    assert api_calls(tenant) == []
    assert not AuditEntry.objects.exists()


def test_an_application_not_offered_is_refused_before_the_call(operator_client, tenant, acme):
    _open_form(operator_client, acme)  # the list of applications the form offered
    m2m = _apps()["Billing Sync (M2M)"].client_id
    tenant.clear_log()
    r = operator_client.post(reverse("orgs:invite", args=[acme]), _invite_data(m2m), headers=HTMX)
    assert r.status_code == 400 and "Pick the application from the list" in r.content.decode()
    assert api_calls(tenant) == [] and not AuditEntry.objects.exists()


@pytest.mark.parametrize(
    ("status", "says"),
    [
        (400, "Auth0 rejected the request (400"),
        (404, "no longer exists in Auth0 (404)"),
        (409, "Auth0 reported a conflict (409)"),
        (429, "Auth0 is rate limiting Org Desk (429"),
        (503, "Auth0 failed (503 server error)"),
    ],
)
def test_auth0_refusals_become_messages_and_are_audited(
    operator_client, tenant, acme, status, says
) -> None:
    portal = _apps()["Acme Customer Portal"].client_id
    tenant.add_fault(method="POST", path="/invitations$", status=status)
    r = operator_client.post(
        reverse("orgs:invite", args=[acme]), _invite_data(portal), headers=HTMX
    )
    assert says in r.content.decode() and r["HX-Reswap"] == "none"
    entry = AuditEntry.objects.get(action=Action.INVITE)
    assert entry.outcome == Outcome.FAILED and entry.status_code == status


def test_hostile_inviter_names_are_escaped(operator_client, operator, tenant, acme) -> None:
    operator.first_name = "<img src=x onerror=alert(1)>"
    operator.save()
    portal = _apps()["Acme Customer Portal"].client_id
    body = operator_client.post(
        reverse("orgs:invite", args=[acme]), _invite_data(portal), headers=HTMX
    ).content.decode()
    assert "&lt;img src=x onerror=alert(1)&gt;" in body and "<img src=x" not in body


def test_role_search_keeps_picked_roles(operator_client, tenant, acme) -> None:
    picked = auth0.list_roles(name_filter="Billing")[0]
    from orgs import names

    names.remember(roles=[picked])
    tenant.clear_log()
    r = operator_client.get(
        reverse("orgs:invite-roles", args=[acme]),
        {"q": "Security", "roles": [picked.id, "bogus"]},
        headers=HTMX,
    )
    body = r.content.decode()
    assert len(api_calls(tenant)) == 1
    assert f'value="{picked.id}" checked' in body and "Security Admin" in body
    assert "bogus" not in body


# --- Revoke -------------------------------------------------------------------------------------


def test_revoke_through_its_confirm_step(operator_client, tenant, acme) -> None:
    target = _by_email(acme, "contractor@partner.example")
    url = reverse("orgs:revoke-invitation", args=[acme, target.id])
    tenant.clear_log()
    confirm = operator_client.get(url, headers=HTMX).content.decode()
    assert "Revoke the invitation for contractor@partner.example?" in confirm
    assert 'data-testid="confirm-revoke"' in confirm and "data-cancel" in confirm
    assert _paths(tenant) == [("GET", f"/api/v2/organizations/{acme}/invitations/{target.id}")]
    # Cancel goes back to the row from the step's read: no call
    tenant.clear_log()
    row = operator_client.get(
        reverse("orgs:invitation-row", args=[acme, target.id]), headers=HTMX
    ).content.decode()
    assert 'data-testid="invitation-row"' in row and api_calls(tenant) == []
    r = operator_client.post(url, headers=HTMX)
    body = r.content.decode()
    assert _paths(tenant) == [("DELETE", f"/api/v2/organizations/{acme}/invitations/{target.id}")]
    assert "invitation-row" not in body  # the row is swapped away
    assert "Revoked the invitation for contractor@partner.example" in body
    assert target.id not in {i.id for i in _pending(acme)}
    entry = AuditEntry.objects.get(action=Action.REVOKE_INVITATION)
    assert entry.outcome == Outcome.SUCCESS and entry.member_id == "contractor@partner.example"
    assert _d(entry.before)["invitation_id"] == target.id
    assert _d(entry.before)["client_id"] == target.client_id
    assert _d(entry.before)["connection_id"] == target.connection_id
    assert [r["id"] for r in _d(entry.before)["roles"]] == list(target.roles)
    assert _d(entry.before)["ttl_sec"] == 30 * 86400
    assert "invitation_url" not in json.dumps(entry.before)


def test_revoke_without_the_confirm_step_reads_first(operator_client, tenant, acme) -> None:
    target = _by_email(acme, "new.hire@acme.example")
    tenant.clear_log()
    operator_client.post(reverse("orgs:revoke-invitation", args=[acme, target.id]), headers=HTMX)
    assert [m for m, _ in _paths(tenant)] == ["GET", "DELETE"]
    entry = AuditEntry.objects.get(action=Action.REVOKE_INVITATION)
    assert _d(entry.before)["invitee"] == "new.hire@acme.example"


def test_revoking_an_invitation_that_is_gone_drops_the_row(operator_client, tenant, acme):
    target = _by_email(acme, "new.hire@acme.example")
    url = reverse("orgs:revoke-invitation", args=[acme, target.id])
    operator_client.get(url, headers=HTMX)
    auth0.delete_invitation(org_id=acme, invitation_id=target.id)
    r = operator_client.post(url, headers=HTMX)
    assert "no longer exists (404)" in r.content.decode() and "HX-Reswap" not in r
    assert AuditEntry.objects.get(action=Action.REVOKE_INVITATION).outcome == Outcome.FAILED


def test_revoke_rate_limited_keeps_the_row(operator_client, tenant, acme) -> None:
    target = _by_email(acme, "new.hire@acme.example")
    url = reverse("orgs:revoke-invitation", args=[acme, target.id])
    operator_client.get(url, headers=HTMX)
    tenant.add_fault(method="DELETE", status=429)
    r = operator_client.post(url, headers=HTMX)
    assert "rate limiting" in r.content.decode() and r["HX-Reswap"] == "none"
    assert target.id in {i.id for i in _pending(acme)}


# --- Resend -------------------------------------------------------------------------------------


def test_resend_revokes_and_creates_again_with_the_same_settings(
    operator_client, tenant, acme
) -> None:
    old = _by_email(acme, "contractor@partner.example")
    tenant.clear_log()
    r = operator_client.post(reverse("orgs:resend-invitation", args=[acme, old.id]), headers=HTMX)
    body = r.content.decode()
    path = f"/api/v2/organizations/{acme}/invitations"
    assert _paths(tenant) == [
        ("GET", f"{path}/{old.id}"),
        ("DELETE", f"{path}/{old.id}"),
        ("POST", path),
    ]
    post = mutations(tenant)[-1]["json"]
    assert post == {
        "inviter": {"name": old.inviter_name},
        "invitee": {"email": old.invitee_email},
        "client_id": old.client_id,
        "connection_id": old.connection_id,
        "roles": list(old.roles),
        "ttl_sec": 30 * 86400,
        "send_invitation_email": True,
    }
    new = _by_email(acme, "contractor@partner.example")
    assert new.id != old.id and old.id not in {i.id for i in _pending(acme)}
    assert f'id="inv-{new.id}"' in body and "data-focus-after" in body
    assert "Sent the invitation to contractor@partner.example again" in body
    entry = AuditEntry.objects.get(action=Action.RESEND_INVITATION)
    assert entry.outcome == Outcome.SUCCESS
    assert _d(entry.before)["invitation_id"] == old.id
    assert _d(entry.after)["new_invitation_id"] == new.id and _d(entry.after)["recreated"] is True
    assert new.expires_at is not None
    assert _d(entry.after)["expires_at"] == new.expires_at.isoformat()


def test_resend_that_revoked_but_could_not_create_says_so(operator_client, tenant, acme):
    old = _by_email(acme, "new.hire@acme.example")
    tenant.add_fault(method="POST", path="/invitations$", status=503)
    r = operator_client.post(reverse("orgs:resend-invitation", args=[acme, old.id]), headers=HTMX)
    body = r.content.decode()
    entry = AuditEntry.objects.get(action=Action.RESEND_INVITATION)
    assert "was revoked, but the new one was not created" in body
    assert f"audit entry #{entry.pk}" in body
    assert entry.outcome == Outcome.FAILED and entry.status_code == 503
    assert entry.after == {"revoked": True, "recreated": False}
    assert entry.is_restorable  # the audit log can send it again
    assert old.id not in {i.id for i in _pending(acme)}


def test_resend_that_fails_before_revoking_changes_nothing(operator_client, tenant, acme):
    old = _by_email(acme, "new.hire@acme.example")
    tenant.add_fault(method="DELETE", status=500)
    r = operator_client.post(reverse("orgs:resend-invitation", args=[acme, old.id]), headers=HTMX)
    assert "Auth0 failed (500 server error)" in r.content.decode() and r["HX-Reswap"] == "none"
    assert old.id in {i.id for i in _pending(acme)}
    entry = AuditEntry.objects.get(action=Action.RESEND_INVITATION)
    assert entry.outcome == Outcome.FAILED and not entry.is_restorable


# --- Viewers and ids ----------------------------------------------------------------------------


def test_viewer_is_refused_everything_that_leads_to_a_change(viewer_client, tenant, acme):
    target = _by_email(acme, "new.hire@acme.example")
    tenant.clear_log()
    for method, name, args in [
        ("get", "orgs:invite-form", [acme]),
        ("get", "orgs:invite-roles", [acme]),
        ("post", "orgs:invite", [acme]),
        ("get", "orgs:revoke-invitation", [acme, target.id]),
        ("post", "orgs:revoke-invitation", [acme, target.id]),
        ("post", "orgs:resend-invitation", [acme, target.id]),
    ]:
        r = getattr(viewer_client, method)(reverse(name, args=args), headers=HTMX)
        assert r.status_code == 403, name
        assert "read-only access (viewer)" in r.content.decode()
    assert api_calls(tenant) == [] and not AuditEntry.objects.exists()


def test_viewer_sees_the_list_without_controls(viewer_client, tenant, acme) -> None:
    body = viewer_client.get(
        reverse("orgs:invitations", args=[acme]), headers=HTMX
    ).content.decode()
    assert body.count('data-testid="invitation-row"') == 4
    assert "Revoke…" not in body and "Resend" not in body and "hx-post" not in body
    page = viewer_client.get(reverse("orgs:detail", args=[acme])).content.decode()
    assert "Invite…" not in page


@pytest.mark.parametrize("bad", ["uinv_", "inv_abc", "uinv_a%2F..", "uinv_" + "a" * 60])
def test_bad_invitation_ids_are_404_without_a_call(operator_client, tenant, acme, bad) -> None:
    tenant.clear_log()
    for suffix in ("", "revoke/", "resend/"):
        r = operator_client.post(f"/orgs/{acme}/invitations/{bad}/{suffix}", headers=HTMX)
        assert r.status_code == 404
    assert api_calls(tenant) == []


def test_expired_state_follows_the_clock() -> None:
    now = datetime.now(UTC)
    inv = auth0.Invitation(
        "uinv_x", "org_x", "a@b.c", "A", "c", "", (), "", "", now - timedelta(days=8), now
    )
    from orgs.invitations import lifetime, row

    assert row(inv).expired and lifetime(inv) == 8 * 86400
