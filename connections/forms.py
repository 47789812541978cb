"""Input validation for the connection views: nothing unvalidated goes upstream."""

from __future__ import annotations

from django import forms

from adminsite import auth0


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


def _connection_id_field(*, required: bool) -> forms.RegexField:
    return forms.RegexField(
        regex=rf"\A{auth0.CONNECTION_ID.pattern}\Z",
        max_length=50,
        required=required,
        error_messages={
            "invalid": "a connection id looks like con_ followed by letters and digits",
            "required": "choose a connection",
            "max_length": "a connection id is at most 50 characters",
        },
    )


class PickerQuery(forms.Form):
    """What the "Add connection…" step asks for: the picker (with a filter), the settings of
    the chosen connection, or the step closed again."""

    q = forms.CharField(required=False, max_length=100, strip=True)
    connection_id = _connection_id_field(required=False)
    step = forms.ChoiceField(required=False, choices=[("", "picker"), ("closed", "closed")])


class ConnectionSettingsForm(forms.Form):
    """The three per-organization settings as checkboxes (absent: off). Which of them apply to a
    connection is decided from its strategy as Auth0 reported it, never from the form."""

    assign_membership_on_login = forms.BooleanField(required=False)
    show_as_button = forms.BooleanField(required=False)
    is_signup_enabled = forms.BooleanField(required=False)


class EnableForm(ConnectionSettingsForm):
    """Enable one connection (by id) with its settings."""

    connection_id = _connection_id_field(required=True)
