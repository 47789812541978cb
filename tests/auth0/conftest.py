"""Fixtures of the service module's tests: Auth0 settings, an empty cache, the faked wire."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
import responses
from django.core.cache import cache

from adminsite import auth0
from tests.auth0.helpers import BASE, CLIENT_ID, SECRET


@pytest.fixture(autouse=True)
def auth0_settings(settings: Any) -> None:
    settings.AUTH0_SANDBOX = False
    settings.AUTH0_BASE_URL = BASE
    settings.AUTH0_CLIENT_ID = CLIENT_ID
    settings.AUTH0_CLIENT_SECRET = SECRET
    settings.AUTH0_AUDIENCE = BASE + "/api/v2/"
    settings.AUTH0_TIMEOUT = 5.0


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    cache.clear()
    auth0.reset_upstream_stats()
    yield
    cache.clear()


@pytest.fixture
def wire() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=True) as mock:
        yield mock


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    return slept
