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
