"""Constants and a tiny Management API client shared by the sandbox tenant's tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

ROOT = Path(__file__).resolve().parents[2]
ORGS = 1100
BIG = 1100
SLASHY = "samlp|acme-saml|jane/doe@acme.example"  # contains both | and /
PIPEY = "auth0|63d16bb11e39d8a43b8ed0f5"
NINE = "auth0|65f0a1b2c3d4e5f60718293a"  # 49 roles in acme
FIFTY = "auth0|65f0a1b2c3d4e5f60718293b"  # 50 roles in acme


def enc(value: str) -> str:
    return quote(value, safe="")


class Api:
    """A tiny Management API client for the tests (what Org Desk's service module does)."""

    def __init__(self, session: requests.Session, base: str) -> None:
        self.session = session
        self.base = base
        self.token = ""

    def get_token(self, **overrides: str) -> requests.Response:
        data = {
            "grant_type": "client_credentials",
            "client_id": "org-desk-sandbox",
            "client_secret": "sandbox-secret",
            "audience": f"{self.base}/api/v2/",
            **overrides,
        }
        return self.session.post(f"{self.base}/oauth/token", data=data, timeout=5)

    def login(self) -> Api:
        self.token = self.get_token().json()["access_token"]
        return self

    def call(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        json: Any = None,
        timeout: Any = 5,
        token: str | None = None,
    ) -> requests.Response:
        token = self.token if token is None else token
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.session.request(
            method,
            f"{self.base}/api/v2{path}",
            params=params,
            json=json,
            headers=headers,
            timeout=timeout,
        )

    def get(self, path: str, **params: Any) -> requests.Response:
        return self.call("GET", path, params=params or None)


def org(api: Api, name: str) -> str:
    return api.get(f"/organizations/name/{name}").json()["id"]


def error(response: requests.Response) -> dict[str, Any]:
    assert response.headers["Content-Type"].startswith("application/json")
    return response.json()
