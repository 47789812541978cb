"""Input validation for the member views: nothing unvalidated goes upstream."""

from __future__ import annotations

from django import forms

from adminsite import auth0

MAX_ROLES_PER_MEMBER = 50  # Auth0: "Maximum of 50 roles per member" in one organization


def _clean_user_id(value: str) -> str:
    """The service module's rule (auth0.is_user_id), plus no surrounding spaces: Auth0's ids
    have none, so such a value was mangled on its way here."""
    if not auth0.is_user_id(value) or value != value.strip():
        raise forms.ValidationError("That is not a valid user id.")
    return value


class MemberForm(forms.Form):
    user_id = forms.CharField(
        max_length=auth0.MAX_USER_ID,
        strip=False,
        error_messages={"required": "A user id is required."},
    )

    def clean_user_id(self) -> str:
        return _clean_user_id(self.cleaned_data["user_id"])


class RoleIdsField(forms.MultipleChoiceField):
    """Role ids picked from Auth0's list: any well-formed `rol_…` id, at most 50."""

    default_error_messages = {  # Django's default repeats the posted value: name no value
        "invalid_choice": "Pick roles from the list (role ids look like rol_…).",
    }

    def valid_value(self, value: str) -> bool:
        return bool(auth0.ROLE_ID.fullmatch(value))

    def clean(self, value: object) -> list[str]:
        roles = list(dict.fromkeys(super().clean(value)))
        if len(roles) > MAX_ROLES_PER_MEMBER:
            raise forms.ValidationError(f"Pick at most {MAX_ROLES_PER_MEMBER} roles.")
        return roles


class AssignRolesForm(MemberForm):
    roles = RoleIdsField(error_messages={"required": "Pick at least one role."})


class RemoveRoleForm(MemberForm):
    role = forms.RegexField(
        regex=rf"\A{auth0.ROLE_ID.pattern}\Z",
        error_messages={"invalid": "That is not a role id (rol_…)."},
    )


# --- Invitations (orgs/invitations.py) ------------------------------------------------------------

INVITE_MAX_DAYS = 30  # Auth0: an invitation is valid for at most 30 days


class InviteForm(forms.Form):
    """An invitation as the operator asks for it. The inviter's name is not a field: it is the
    signed-in person. The application is checked against the list the form offered
    (orgs.invitations.client_for_post); the roles are at most 50 (Auth0's limit)."""

    email = forms.EmailField(
        max_length=254,
        error_messages={
            "required": "Give the email address to invite.",
            "invalid": "That is not an email address.",
        },
    )
    client_id = forms.RegexField(
        regex=rf"\A{auth0.CLIENT_ID.pattern}\Z",
        required=False,
        error_messages={"invalid": "Pick the application from the list."},
    )
    connection_id = forms.RegexField(
        regex=rf"\A{auth0.CONNECTION_ID.pattern}\Z",
        required=False,
        error_messages={"invalid": "Pick the connection from the list (con_…)."},
    )
    roles = RoleIdsField(required=False)
    ttl_days = forms.IntegerField(
        min_value=1,
        max_value=INVITE_MAX_DAYS,
        initial=7,
        error_messages={
            "required": "Say how many days the invitation is valid (1 to 30).",
            "invalid": "The lifetime is a whole number of days (1 to 30).",
            "min_value": "An invitation is valid for at least 1 day.",
            "max_value": "Auth0 keeps an invitation valid for at most 30 days.",
        },
    )
    delivery = forms.ChoiceField(
        choices=[("email", "Send the invitation email"), ("link", "Just give me the link")],
        initial="email",
        error_messages={
            "required": "Choose: send the email, or just the link.",
            "invalid_choice": "Choose: send the email, or just the link.",
        },
    )
