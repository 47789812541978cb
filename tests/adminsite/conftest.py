"""Fixtures of the Django project's tests: SSO switched on, the acme organization."""

from __future__ import annotations

import pytest

from tests.helpers import org_id


@pytest.fixture
def sso(settings):
    settings.SSO_USER_HEADER = "X-Forwarded-Email"
    settings.SSO_GROUPS_HEADER = "X-Forwarded-Groups"
    settings.SSO_OPERATOR_GROUPS = ["orgdesk-operators", "support-leads"]
    settings.SSO_TRUSTED_PROXIES = ["10.0.3.0/24", "fd00::/64"]
    settings.SSO_LOGOUT_URL = ""
    return settings


@pytest.fixture
def acme(tenant) -> str:
    return org_id("acme")
