"""Jobs pace themselves by Auth0's published limits, share them, and leave room for the pages."""

from __future__ import annotations

import time

import pytest

from adminsite.auth0 import client
from adminsite.jobs import pacing, services
from adminsite.jobs.models import Kind

ROLES_PATH = "/api/v2/organizations/org_x/members/auth0%7C1/roles"


@pytest.fixture
def member_roles_limit(settings) -> None:
    settings.JOBS_RATE_LIMITS = {**settings.JOBS_RATE_LIMITS, "member_roles": (20, 200)}
    settings.JOBS_PAGE_RESERVE = 5


@pytest.fixture
def members_write_limit(settings) -> None:
    settings.JOBS_RATE_LIMITS = {**settings.JOBS_RATE_LIMITS, "members_write": (20, 200)}


def test_jobs_never_burst_they_send_at_the_sustained_rate(member_roles_limit) -> None:
    """The burst of 20 is left to the pages: a job sends one request every 0.3 s (200 a minute)
    even after it was idle, as it cannot know what others spent just before."""
    now = 1_000_000.0
    assert pacing.try_take("member_roles", now=now) == 0.0
    assert pacing.try_take("member_roles", now=now) == pytest.approx(0.3)
    assert pacing.try_take("member_roles", now=now + 0.3) == 0.0
    assert pacing.try_take("member_roles", now=now + 0.3) == pytest.approx(0.3)
    assert pacing.try_take("member_roles", now=now + 100) == 0.0
    assert pacing.try_take("member_roles", now=now + 100) == pytest.approx(0.3)


def test_one_minute_never_carries_more_than_the_published_limit(member_roles_limit) -> None:
    """Two jobs (or ten) take from one bucket: together at most burst + 200 a minute."""
    now, sent, t = 5_000_000.0, 0, 0.0
    while t < 60.0:
        for _job in range(3):
            if pacing.try_take("member_roles", now=now + t) == 0.0:
                sent += 1
        t += 0.01
    assert 199 <= sent <= 201


def test_the_jobs_wait_when_pages_have_spent_the_reserve(member_roles_limit, monkeypatch) -> None:
    """Auth0 last said 1 request left on the endpoint (people on the pages used it): the job
    waits for 4 refills (up to the reserve of 5) before it sends."""
    reset_key, remaining_key = client._bucket_keys("POST", ROLES_PATH)
    import time

    from django.core.cache import cache

    cache.set_many({reset_key: time.time() + 30, remaining_key: 1}, timeout=30)
    slept: list[float] = []
    waited = pacing.acquire("member_roles", method="POST", path=ROLES_PATH, sleep=slept.append)
    assert waited == pytest.approx(4 * 0.3)
    cache.set(remaining_key, 10, timeout=30)
    cache.delete(pacing._key("member_roles"))  # the jobs' own pace: not what is tested here
    assert pacing.acquire("member_roles", method="POST", path=ROLES_PATH, sleep=slept.append) == 0


def test_a_wait_ticks_the_heartbeat(member_roles_limit) -> None:
    ticks: list[int] = []
    sleeps: list[float] = []
    pacing.acquire("member_roles", method="POST", path=ROLES_PATH, sleep=sleeps.append)
    assert not sleeps

    def sleep(seconds: float) -> None:  # the bucket's clock is real time: really wait, a little
        sleeps.append(seconds)
        time.sleep(seconds)

    pacing.acquire(
        "member_roles",
        method="POST",
        path=ROLES_PATH,
        tick=lambda: ticks.append(1),
        sleep=sleep,
    )
    assert ticks and 0.2 < sum(sleeps) <= 0.31


def test_the_confirm_step_estimate_is_the_rate_limits_time(member_roles_limit) -> None:
    # 1,000 members at 200 a minute, one every 0.3 s (the first at once)
    assert services.estimate_seconds(Kind.ASSIGN_ROLES, 1000) == pytest.approx(299.7)


def test_the_estimate_counts_ten_members_a_call_where_the_job_sends_them_so(
    members_write_limit,
) -> None:
    # removing 1,000 members: 100 calls at 200 a minute (the first at once)
    assert services.estimate_seconds(Kind.REMOVE_MEMBERS, 1000) == pytest.approx(29.7)
    assert services.estimate_seconds(Kind.ADD_MEMBERS, 1000, with_roles=False) == pytest.approx(
        29.7
    )


def test_pages_still_fail_fast_on_a_spent_budget_while_jobs_wait(monkeypatch) -> None:
    """The client's patient mode is the job's thread only: a page's call raises RateLimited."""
    import time

    from django.core.cache import cache

    from adminsite.auth0 import RateLimited

    reset_key, remaining_key = client._bucket_keys("POST", ROLES_PATH)
    cache.set_many({reset_key: time.time() + 30, remaining_key: 0}, timeout=30)
    with pytest.raises(RateLimited):
        client._take_budget("POST", ROLES_PATH)
    slept: list[float] = []
    monkeypatch.setattr(client.time, "sleep", slept.append)
    with client.patient():
        client._take_budget("POST", ROLES_PATH)
    assert slept and 28 <= slept[0] <= 30
    assert not client.is_patient()


def test_a_patient_wait_ticks_every_few_seconds(monkeypatch) -> None:
    """A job's long wait for the reset still writes its heartbeat (the sweep's lease)."""
    import time

    from django.core.cache import cache

    reset_key, remaining_key = client._bucket_keys("POST", ROLES_PATH)
    cache.set_many({reset_key: time.time() + 30, remaining_key: 0}, timeout=30)
    slept: list[float] = []
    ticks: list[int] = []
    monkeypatch.setattr(client.time, "sleep", slept.append)
    with client.patient(tick=lambda: ticks.append(1)):
        client._take_budget("POST", ROLES_PATH)
    assert max(slept) <= client.PATIENT_TICK and 28 <= sum(slept) <= 30
    assert len(ticks) == len(slept) >= 6
