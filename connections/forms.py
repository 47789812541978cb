"""Input validation for the connection views: nothing unvalidated goes upstream."""

from __future__ import annotations

from django import forms


def _is_true(value: str) -> bool:
    return value == "true"


class DomainLevelForm(forms.Form):
    """The status the confirm step asks for: exactly "true" or "false", nothing else."""

    is_domain_connection = forms.TypedChoiceField(
        choices=[("true", "domain-level"), ("false", "not domain-level")],
        coerce=_is_true,
        error_messages={
            "required": "the requested domain-level status is missing",
            "invalid_choice": "the requested domain-level status must be true or false",
        },
    )

    def problem(self) -> str:
        """Why the posted status was refused, for the message (call after is_valid())."""
        return "; ".join(str(e) for e in self.errors["is_domain_connection"])
