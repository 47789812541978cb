"""Fixtures of the audit log's tests."""

from __future__ import annotations

import pytest

from tests.helpers import org_id


@pytest.fixture
def acme(tenant) -> str:
    return org_id("acme")


@pytest.fixture
def short_timeout(settings) -> None:
    settings.AUTH0_TIMEOUT = 0.3
