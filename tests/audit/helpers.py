"""Faults, the secret to keep out of pages, and small helpers shared by the audit log's tests."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from adminsite import auth0
from adminsite.audit.models import Action, AuditEntry, Outcome
from tests.helpers import HTMX

SECRET = "sandbox-secret"
SCOPE_403 = {
    "statusCode": 403,
    "error": "Forbidden",
    "message": "Insufficient scope, expected any of: update:everything",
    "errorCode": "insufficient_scope",
}
# (fault, expected status_code, expected error kind, words of the flash message)
FAULTS: dict[str, tuple[dict[str, Any], int | None, str, str]] = {
    "403": ({"status": 403, "body": SCOPE_403}, 403, "insufficient_scope", "update:everything"),
    "500": ({"status": 500}, 500, "server_error", "500 server error"),
    "timeout": ({"delay": 1.0}, None, "timeout", "did not answer in time"),
    "drop": ({"drop": True}, None, "connection", "could not be reached"),
}


def only_entry() -> AuditEntry:
    [entry] = AuditEntry.objects.all()
    return entry


def enabled_by_name(org: str, name: str) -> auth0.EnabledConnection:
    return next(c for c in auth0.list_enabled_connections(org_id=org) if c.name == name)


def body(response) -> str:
    text = response.content.decode()
    assert SECRET not in text and "Bearer" not in text
    return text


def confirm_and_remove(client, org: str, conn_id: str):
    url = reverse("connections:remove", args=[org, conn_id])
    assert client.get(url, headers=HTMX).status_code == 200
    return client.post(url, headers=HTMX)


def not_domain_level(acme: str) -> auth0.EnabledConnection:
    index = auth0.domain_connection_index()
    return next(
        c
        for c in auth0.list_enabled_connections(org_id=acme)
        if not index[c.connection_id].is_domain_connection
    )


def make_entry(**fields) -> AuditEntry:
    values = {
        "username": "olivia",
        "action": Action.REMOVE_CONNECTION,
        "org_id": "org_abc",
        "connection_id": "con_abc",
        "outcome": Outcome.SUCCESS,
        "before": {"assign_membership_on_login": True, "show_as_button": False},
        **fields,
    }
    return AuditEntry.objects.create(**values)
