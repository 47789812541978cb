"""Why a restore is refused, what it sends back, what Auth0's refusals mean: pure decisions."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from adminsite import auth0
from adminsite.audit.models import AuditEntry
from adminsite.audit.views import restore_refusal, settings_to_restore, why_not_restored

WHEN = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)


def attempt(pk: int, username: str) -> AuditEntry:
    return AuditEntry(pk=pk, username=username, created_at=WHEN)  # never saved


def test_nothing_in_the_way_means_no_refusal() -> None:
    assert restore_refusal(None, None) is None


def test_a_done_restore_refuses_and_names_who_and_which_entry() -> None:
    refusal = restore_refusal(attempt(7, "ana"), None)
    assert refusal is not None and refusal.startswith("This connection was already restored")
    assert "ana" in refusal and "audit entry #7" in refusal and "nothing was sent" in refusal


def test_a_restore_under_way_refuses_and_says_what_to_do() -> None:
    refusal = restore_refusal(None, attempt(8, "bo"))
    assert refusal is not None and refusal.startswith("A restore of this connection is already")
    assert "bo" in refusal and "audit entry #8" in refusal and "Reload this page" in refusal


def test_a_done_restore_comes_first() -> None:
    refusal = restore_refusal(attempt(7, "ana"), attempt(8, "bo"))
    assert refusal is not None and "#7" in refusal and "#8" not in refusal


def test_the_former_settings_are_sent_back_and_nothing_else() -> None:
    before = {
        "name": "acme-sso",
        "assign_membership_on_login": 1,
        "show_as_button": 0,
        "is_signup_enabled": True,
        "strategy": "samlp",
    }
    assert settings_to_restore(before) == {
        "assign_membership_on_login": True,
        "show_as_button": False,
        "is_signup_enabled": True,
    }
    no_signup = {"assign_membership_on_login": False, "show_as_button": True}
    assert settings_to_restore(no_signup)["is_signup_enabled"] is None  # not sent


def test_a_409_saying_already_means_the_connection_is_back() -> None:
    exc = auth0.Conflict("The connection is already enabled.", status_code=409)
    problem = why_not_restored(exc, "acme-sso", "Acme")
    assert problem is not None and problem.startswith("The connection acme-sso is already")
    assert "(409: The connection is already enabled)" in problem


def test_a_404_means_the_organization_or_connection_is_gone() -> None:
    problem = why_not_restored(auth0.NotFound("gone", status_code=404), "acme-sso", "Acme")
    assert problem is not None and "The organization Acme or the connection acme-sso" in problem


@pytest.mark.parametrize(
    "exc",
    [
        auth0.Conflict("Another operation is in progress", status_code=409),
        auth0.Unavailable("boom", reason="server_error", status_code=503),
        auth0.Forbidden("Insufficient scope", status_code=403),
    ],
)
def test_other_refusals_get_the_general_message(exc: auth0.Auth0Error) -> None:
    assert why_not_restored(exc, "acme-sso", "Acme") is None
