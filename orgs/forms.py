"""Input validation for the member views: nothing unvalidated goes upstream."""

from __future__ import annotations

import re
import unicodedata

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


# --- Adding members (orgs.membership) -----------------------------------------------------------

MAX_ADD_LINES = 5 * auth0.MEMBERS_PER_CALL  # lines looked up per review; added 10 per call
MAX_LINE = 320  # characters of one pasted line (an email is at most 254, a user id 255)
MAX_EMAIL = 254
# Loose on purpose: Auth0 keeps internationalized addresses (sofia.müller@…); it is the lookup
# that decides whether a user has it. No spaces, quotes, angle brackets or controls.
_ATOM = r"[^@\s\"'<>()\[\]\\,;:\x00-\x1f\x7f]+"
EMAIL = re.compile(rf"{_ATOM}@{_ATOM}\.{_ATOM}")
SHOWN_LINE = 60  # characters of a line Org Desk could not read, when it names it back


def line_kind(line: str) -> str:
    """ "user_id" for an Auth0 user id (`provider|id`, as the search box reads them), "email" for
    an email address, "" for anything else (never sent to Auth0)."""
    if "|" in line:
        return "user_id" if auth0.is_user_id(line) else ""
    if len(line) > MAX_EMAIL or any(unicodedata.category(c)[0] in "CZ" for c in line):
        return ""  # controls, format characters (bidi overrides) and spaces
    return "email" if EMAIL.fullmatch(line) else ""


def shown_line(line: str) -> str:
    """A pasted line as messages and the confirm step may show it: printable, and short."""
    text = "".join(c if c.isprintable() else "\ufffd" for c in line)
    return text if len(text) <= SHOWN_LINE else text[: SHOWN_LINE - 1] + "…"


class AddMembersForm(forms.Form):
    """The add form: one email or user id a line (at most MAX_ADD_LINES), and roles to give."""

    lines = forms.CharField(
        widget=forms.Textarea,
        max_length=MAX_ADD_LINES * (MAX_LINE + 2) + 200,
        strip=False,
        error_messages={
            "required": "Paste at least one email or user id.",
            "max_length": f"Paste at most {MAX_ADD_LINES} emails or user ids.",
        },
    )
    roles = RoleIdsField(required=False)

    def clean_lines(self) -> list[str]:
        """The non-empty lines, each once, in order; no more than one add call's worth."""
        text: str = self.cleaned_data["lines"]
        lines = list(dict.fromkeys(ln.strip() for ln in text.splitlines() if ln.strip()))
        if not lines:
            raise forms.ValidationError("Paste at least one email or user id.")
        if len(lines) > MAX_ADD_LINES:
            raise forms.ValidationError(
                f"Paste at most {MAX_ADD_LINES} emails or user ids at a time (you pasted "
                f"{len(lines)}): each is looked up in Auth0 before the confirm step."
            )
        return [ln[:MAX_LINE] for ln in lines]


class UserIdsField(forms.MultipleChoiceField):
    """User ids ticked in a list Org Desk showed: well-formed, each once, at most MAX_ADD_LINES."""

    default_error_messages = {"invalid_choice": "Tick people from the list."}

    def valid_value(self, value: str) -> bool:
        return auth0.is_user_id(value)

    def clean(self, value: object) -> list[str]:
        ids = list(dict.fromkeys(super().clean(value)))
        if len(ids) > MAX_ADD_LINES:
            raise forms.ValidationError(f"Tick at most {MAX_ADD_LINES} people at a time.")
        return ids


class ConfirmAddForm(forms.Form):
    """The confirm step: the review it confirms (a key to what Org Desk read) and the people
    ticked there (user ids, checked again against that review)."""

    review = forms.RegexField(
        regex=r"\A[0-9a-f]{32}\Z",
        error_messages={"invalid": "That confirm step is not valid; review the list again."},
    )
    user_id = UserIdsField(error_messages={"required": "Tick at least one person to add."})


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
