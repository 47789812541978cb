"""Constants, recorded bodies and wire helpers shared by the service module's tests."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests
import responses
from responses import matchers

BASE = "https://tenant.example.auth0.com"
API = BASE + "/api/v2"
TOKEN_URL = BASE + "/oauth/token"
CLIENT_ID = "orgdesk-client-id"
SECRET = "very-secret-client-secret-7f3a"
TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJvcmdkZXNrIn0.first-token-Ggg"
TOKEN_2 = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJvcmdkZXNrIn0.second-token-Hhh"
ORG = "org_OVCzBg5uRfKdFAfw"
CON = "con_8vltfmSkOUXA8Ojf"
USER = "auth0|63d16bb11e39d8a43b8ed0f5"
ODD_USER = "samlp|acme/jane|doe"
ODD_USER_ENC = "samlp%7Cacme%2Fjane%7Cdoe"

ORG_BODY = {
    "id": "org_OVCzBg5uRfKdFAfw",
    "name": "test-organization914",
    "display_name": "Test Organization",
    "branding": {"logo_url": "https://example.com/logo.gif"},
}
ENABLED_BODY = {
    "connection_id": "con_8vltfmSkOUXA8Ojf",
    "assign_membership_on_login": True,
    "show_as_button": True,
    "connection": {"name": "test-conn84", "strategy": "ad"},
}
MEMBER_ROLES_BODY: dict[str, Any] = {
    "roles": [
        {
            "id": "rol_48sn6VuZrMwptwVC",
            "name": "Test Reader - testaccorganizationmemberroles",
            "description": "",
        }
    ],
    "start": 0,
    "limit": 100,
    "total": 1,
}
NOT_FOUND_ORG = {
    "statusCode": 404,
    "error": "Not Found",
    "message": "No organization found by that id or name",
}
INVALID_TOKEN = {
    "statusCode": 401,
    "error": "Unauthorized",
    "message": "Invalid token",
    "attributes": {"error": "Invalid token"},
}


def add_token(wire: responses.RequestsMock, token: str = TOKEN, expires_in: int = 86400) -> None:
    wire.post(
        TOKEN_URL,
        json={
            "access_token": token,
            "expires_in": expires_in,
            "scope": "read:organizations",
            "token_type": "Bearer",
        },
        match=[
            matchers.urlencoded_params_matcher(
                {
                    "grant_type": "client_credentials",
                    "client_id": CLIENT_ID,
                    "client_secret": SECRET,
                    "audience": BASE + "/api/v2/",
                }
            )
        ],
    )


def url_of(request: requests.PreparedRequest) -> str:
    """The URL a recorded request went to (always set on a sent request)."""
    assert request.url is not None
    return request.url


def json_sent(request: requests.PreparedRequest) -> Any:
    """The JSON body a recorded request sent."""
    assert request.body is not None
    return json.loads(request.body)


def timeout_of(request: requests.PreparedRequest) -> object:
    """The timeout Org Desk passed to send(), which responses records on the request."""
    # responses sets req_kwargs on each request it records, undeclared in its types.
    return request.req_kwargs["timeout"]  # type: ignore[attr-defined]


def query(wire: responses.RequestsMock, index: int) -> list[tuple[str, str]]:
    return parse_qsl(urlsplit(url_of(wire.calls[index].request)).query)


def api_calls(wire: responses.RequestsMock) -> list[str]:
    return [
        f"{c.request.method} {c.request.path_url}"
        for c in wire.calls
        if "/oauth/token" not in url_of(c.request)
    ]
