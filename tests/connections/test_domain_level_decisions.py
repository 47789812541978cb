"""The domain-level change's form and message: pure decisions, no Auth0, no page."""

from __future__ import annotations

import pytest

from adminsite import auth0
from connections.forms import DomainLevelForm
from connections.views import domain_level_news

CON = "con_0123456789abcdef"
NOT_TRUE_OR_FALSE = "the requested domain-level status must be true or false"


@pytest.mark.parametrize(("posted", "wanted"), [("true", True), ("false", False)])
def test_the_form_takes_exactly_true_or_false(posted: str, wanted: bool) -> None:
    form = DomainLevelForm({"is_domain_connection": posted})
    assert form.is_valid() and form.cleaned_data["is_domain_connection"] is wanted


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({}, "the requested domain-level status is missing"),
        ({"is_domain_connection": "True"}, NOT_TRUE_OR_FALSE),
        ({"is_domain_connection": "1"}, NOT_TRUE_OR_FALSE),
    ],
)
def test_the_form_says_why_it_refused(data: dict[str, str], problem: str) -> None:
    form = DomainLevelForm(data)
    assert not form.is_valid() and form.problem() == problem


def test_the_message_follows_auth0s_answer_not_the_request() -> None:
    on = auth0.Connection(CON, "acme-sso", "samlp", is_domain_connection=True)
    off = auth0.Connection(CON, "acme-sso", "samlp", is_domain_connection=False)
    assert domain_level_news(on, CON) == (
        "The connection acme-sso is now domain-level for the whole tenant."
    )
    assert domain_level_news(off, CON).endswith("is no longer domain-level for the whole tenant.")


def test_the_message_names_the_id_when_auth0_sent_no_name() -> None:
    nameless = auth0.Connection(CON, "", "samlp", is_domain_connection=True)
    assert domain_level_news(nameless, CON).startswith(f"The connection {CON} (name unknown)")
