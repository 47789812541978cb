"""Input validation for the member views: nothing unvalidated goes upstream."""

from __future__ import annotations

from django import forms

from adminsite import auth0

MAX_ROLES_PER_MEMBER = 50  # Auth0: "Maximum of 50 roles per member" in one organization


def _clean_user_id(value: str) -> str:
    if not value or value != value.strip() or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise forms.ValidationError("That is not a valid user id.")
    return value


class MemberForm(forms.Form):
    user_id = forms.CharField(max_length=255, strip=False)

    def clean_user_id(self) -> str:
        return _clean_user_id(self.cleaned_data["user_id"])


class RoleIdsField(forms.MultipleChoiceField):
    """Role ids picked from Auth0's list: any well-formed `rol_…` id, at most 50."""

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
    role = forms.RegexField(regex=rf"\A{auth0.ROLE_ID.pattern}\Z")


class MemberSearchForm(forms.Form):
    email = forms.CharField(max_length=254, required=False)
    q = forms.CharField(max_length=100, required=False)
