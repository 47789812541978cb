"""Restoring a revoked invitation from the audit log = sending it again with the same settings
(orgs.invitations.InvitationRestorer, registered in orgs/apps.py)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from adminsite import auth0
from adminsite.audit.models import Action, AuditEntry, Outcome
from tests.helpers import HTMX, mutations, org_id


@pytest.fixture
def acme(tenant) -> str:
    return org_id("acme")


def _d(state: object) -> dict:
    """An audit state, which these tests expect to be a dict."""
    assert isinstance(state, dict)
    return state


def _by_email(acme: str, email: str) -> auth0.Invitation:
    return next(
        i for i in auth0.list_invitations(org_id=acme).invitations if i.invitee_email == email
    )


def _revoked(client, acme: str, email: str) -> tuple[auth0.Invitation, AuditEntry]:
    target = _by_email(acme, email)
    url = reverse("orgs:revoke-invitation", args=[acme, target.id])
    client.get(url, headers=HTMX)
    client.post(url, headers=HTMX)
    return target, AuditEntry.objects.get(action=Action.REVOKE_INVITATION)


def test_restore_sends_the_revoked_invitation_again(operator_client, tenant, acme) -> None:
    old, removal = _revoked(operator_client, acme, "contractor@partner.example")
    page = operator_client.get(removal.get_absolute_url()).content.decode()
    assert "Send the invitation again" in page and "contractor@partner.example" in page
    tenant.clear_log()
    r = operator_client.post(reverse("audit:restore", args=[removal.pk]), follow=True)
    [post] = mutations(tenant)
    assert post["raw_path"] == f"/api/v2/organizations/{acme}/invitations"
    assert post["json"] == {
        "inviter": {"name": old.inviter_name},
        "invitee": {"email": "contractor@partner.example"},
        "client_id": old.client_id,
        "connection_id": old.connection_id,
        "roles": list(old.roles),
        "ttl_sec": 30 * 86400,
        "send_invitation_email": True,
    }
    assert "Sent the invitation to contractor@partner.example again" in r.content.decode()
    restore = AuditEntry.objects.get(action=Action.RESTORE_INVITATION)
    assert restore.outcome == Outcome.SUCCESS and restore.restores_id == removal.pk
    new = _by_email(acme, "contractor@partner.example")
    assert _d(restore.after)["invitation_id"] == new.id != old.id
    assert "invitation_url" not in str(restore.after)
    # a second restore of the same revocation is refused without a call
    tenant.clear_log()
    r = operator_client.post(reverse("audit:restore", args=[removal.pk]), follow=True)
    assert "already restored" in r.content.decode() and mutations(tenant) == []


def test_restore_of_a_resend_that_revoked_without_re_creating(operator_client, tenant, acme):
    old = _by_email(acme, "new.hire@acme.example")
    tenant.add_fault(method="POST", path="/invitations$", status=503)
    operator_client.post(reverse("orgs:resend-invitation", args=[acme, old.id]), headers=HTMX)
    failed = AuditEntry.objects.get(action=Action.RESEND_INVITATION)
    r = operator_client.post(reverse("audit:restore", args=[failed.pk]), follow=True)
    assert "Sent the invitation to new.hire@acme.example again" in r.content.decode()
    assert _by_email(acme, "new.hire@acme.example").id != old.id


def test_restore_refused_by_auth0_is_recorded(operator_client, tenant, acme) -> None:
    _, removal = _revoked(operator_client, acme, "new.hire@acme.example")
    tenant.add_fault(method="POST", path="/invitations$", status=400)
    r = operator_client.post(reverse("audit:restore", args=[removal.pk]), follow=True)
    assert "Auth0 rejected the request (400" in r.content.decode()
    assert AuditEntry.objects.get(action=Action.RESTORE_INVITATION).outcome == Outcome.FAILED


def test_only_a_successful_revocation_can_be_restored(operator_client, tenant, acme) -> None:
    target = _by_email(acme, "new.hire@acme.example")
    tenant.add_fault(method="DELETE", status=503)
    operator_client.post(reverse("orgs:revoke-invitation", args=[acme, target.id]), headers=HTMX)
    entry = AuditEntry.objects.get(action=Action.REVOKE_INVITATION)
    assert entry.outcome == Outcome.FAILED and not entry.is_restorable
    tenant.clear_log()
    r = operator_client.post(reverse("audit:restore", args=[entry.pk]), follow=True)
    assert "Only a successful removal can be restored" in r.content.decode()
    assert mutations(tenant) == []


def test_viewer_cannot_restore(client, operator, viewer, tenant, acme) -> None:
    client.force_login(operator)
    _, removal = _revoked(client, acme, "new.hire@acme.example")
    client.force_login(viewer)
    tenant.clear_log()
    r = client.post(reverse("audit:restore", args=[removal.pk]))
    assert r.status_code == 403 and mutations(tenant) == []
    page = client.get(removal.get_absolute_url()).content.decode()
    assert "you have read-only access (viewer)" in page
