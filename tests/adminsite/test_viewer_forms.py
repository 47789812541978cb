"""A viewer is shown no form that leads to a change: pickers and confirm steps answer 403.

Each GET here renders a form whose submit changes Auth0 (the role picker and its options, the
connections' confirm steps). For a viewer: 403, the read-only message, and no upstream call;
for an operator the same GET shows the form (so the 403 is not a broken URL)."""

from __future__ import annotations

import html

import pytest
from django.urls import reverse

from adminsite import auth0
from tests.helpers import HTMX, api_calls, org_id

READ_ONLY = "You have read-only access (viewer)"


def _change_forms(acme: str) -> dict[str, tuple[str, dict[str, str], str]]:
    """name: (url, query, what the operator's answer shows)."""
    member = next(m for m in auth0.list_members(org_id=acme).members if m.roles)
    connection = auth0.list_enabled_connections(org_id=acme)[0].connection_id
    picker = reverse("orgs:role-picker", args=[acme])
    return {
        "role-picker": (picker, {"user_id": member.user_id}, "Assign selected roles"),
        "role-options": (
            picker,
            {"user_id": member.user_id, "options": "1", "q": "a"},
            'class="role-options"',
        ),
        "domain-level-step": (
            reverse("connections:domain-level", args=[acme, connection]),
            {},
            "<form",
        ),
        "remove-step": (reverse("connections:remove", args=[acme, connection]), {}, "<form"),
    }


@pytest.mark.parametrize("htmx", [True, False], ids=["htmx", "plain"])
@pytest.mark.parametrize(
    "form", ["role-picker", "role-options", "domain-level-step", "remove-step"]
)
def test_viewer_gets_403_for_a_change_form_and_no_upstream_call(
    viewer_client, tenant, form, htmx
) -> None:
    url, query, _ = _change_forms(org_id("acme"))[form]
    tenant.clear_log()
    r = viewer_client.get(url, query, headers=HTMX if htmx else {})
    body = html.unescape(r.content.decode())
    assert r.status_code == 403
    assert READ_ONLY in body
    assert "Assign selected roles" not in body and 'name="roles"' not in body
    assert api_calls(tenant) == []


@pytest.mark.parametrize(
    "form", ["role-picker", "role-options", "domain-level-step", "remove-step"]
)
def test_operator_gets_the_same_change_form(operator_client, tenant, form) -> None:
    url, query, shown = _change_forms(org_id("acme"))[form]
    r = operator_client.get(url, query, headers=HTMX)
    assert r.status_code == 200 and shown in r.content.decode()


def test_viewer_member_table_has_members_and_roles_but_no_controls(viewer_client, tenant) -> None:
    acme = org_id("acme")
    members = auth0.list_members(org_id=acme).members
    body = html.unescape(
        viewer_client.get(reverse("orgs:members", args=[acme]), headers=HTMX).content.decode()
    )
    assert body.count('data-testid="member-row"') == len(members) > 0
    for member in members:
        assert member.user_id in body
        for role in member.roles:
            assert role.name in body
    assert "Add roles…" not in body and "×" not in body and "Remove role" not in body
    assert reverse("orgs:role-picker", args=[acme]) not in body
    assert reverse("orgs:remove-role", args=[acme]) not in body
