"""URL converters: an id that is not shaped like an Auth0 id never reaches a view (404)."""

from __future__ import annotations

from django.urls import register_converter
from django.urls.converters import get_converters

from adminsite import auth0


class OrganizationId:
    regex = auth0.ORG_ID.pattern

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class ConnectionId(OrganizationId):
    regex = auth0.CONNECTION_ID.pattern


class InvitationId(OrganizationId):
    regex = auth0.INVITATION_ID.pattern


def register() -> None:
    """Register once per process (Django refuses to register a name twice)."""
    converters: tuple[tuple[str, type[OrganizationId]], ...] = (
        ("org_id", OrganizationId),
        ("con_id", ConnectionId),
        ("inv_id", InvitationId),  # invitations (orgs/invitations.py)
    )
    for name, converter in converters:
        if name not in get_converters():
            register_converter(converter, name)
