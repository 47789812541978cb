"""Fixtures of the jobs' tests: the sandbox's big organization, its people and roles."""

from __future__ import annotations

from typing import Any

import pytest

from adminsite.jobs import services
from adminsite.jobs.models import Job, Kind


@pytest.fixture(autouse=True)
def _fast_pacing(settings) -> None:
    """Limits no test waits for, unless a test sets its own."""
    settings.JOBS_RATE_LIMITS = {
        "member_roles": (1000, 600_000),
        "members_write": (1000, 600_000),
        "members_read": (1000, 600_000),
    }
    settings.JOBS_PAGE_RESERVE = 0


@pytest.fixture
def big(tenant) -> str:
    """The sandbox's organization with 1,100 members (tests' size)."""
    return list(tenant.store.orgs)[1]


@pytest.fixture
def people(tenant, big) -> list[str]:
    return list(tenant.store.members[big])


@pytest.fixture
def role(tenant) -> dict[str, str]:
    r = next(iter(tenant.store.roles.values()))
    return {"id": r["id"], "name": r["name"]}


def held(tenant, org: str, user_id: str) -> list[str]:
    return list(tenant.store.member_roles.get((org, user_id), []))


def new_job(user: Any, kind: Kind, org: str, subjects: list[str], roles: list[dict]) -> Job:
    return services.create(
        kind=kind, org_id=org, org_name="Big", user=user, subjects=subjects, roles=roles
    )
