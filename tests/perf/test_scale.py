"""Scale: every organization of a 20,000-organization tenant and every member of a 5,000-member
organization are reachable (checkpoint paging, no 1,000 ceiling); lookups do not walk lists; the
token and the rate-limit budget are shared by workers through Django's cache (local memory,
a file cache, and Redis when a redis-server binary exists).

The big tenant is served over real HTTP, like Auth0, and Org Desk is pointed at it.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse

from adminsite import auth0
from adminsite.sandbox import SandboxServer, Tenant, serve
from tests.helpers import HTMX

# A 20,000-organization tenant, file caches and Redis across processes: outside the fast loop.
pytestmark = pytest.mark.slow

ORGS = 20_000
MEMBERS = 5_000


# --- the big tenant ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def big_server() -> Iterator[SandboxServer]:
    server = serve(Tenant(organizations=ORGS, big_org_members=MEMBERS))
    yield server
    server.shutdown()


def point_at(settings: Any, url: str) -> None:
    settings.AUTH0_SANDBOX = False
    settings.AUTH0_BASE_URL = url
    settings.AUTH0_AUDIENCE = url + "/api/v2/"
    settings.AUTH0_CLIENT_ID = "org-desk-sandbox"
    settings.AUTH0_CLIENT_SECRET = "sandbox-secret"
    settings.AUTH0_TIMEOUT = 5.0


@pytest.fixture
def big(big_server: SandboxServer, settings: Any) -> Iterator[Tenant]:
    point_at(settings, big_server.url)
    tenant = big_server.tenant
    tenant.clear_log()
    yield tenant
    tenant.clear_faults()
    tenant.set_rate_limit(None)


def api_requests(tenant: Tenant) -> list[dict[str, Any]]:
    return [r for r in tenant.requests_log if r["raw_path"].startswith("/api/v2/")]


def token_requests(tenant: Tenant) -> int:
    return sum(r["raw_path"] == "/oauth/token" for r in tenant.requests_log)


def test_every_organization_of_a_20000_organization_tenant_is_reachable(big: Tenant) -> None:
    seen: list[str] = []
    cursor: str | None = None
    auth0.reset_upstream_stats()
    while True:
        page = auth0.list_organizations(from_=cursor, take=50)
        seen += [o.id for o in page.organizations]
        if page.next is None:
            break
        cursor = page.next
    assert len(seen) == len(set(seen)) == ORGS  # every id exactly once
    assert set(seen) == set(big.store.orgs)
    assert auth0.upstream_stats().calls == ORGS // 50  # one call per page, no extra lookups
    assert all("take=50" in r["query"] and "page=" not in r["query"] for r in api_requests(big))


def test_every_member_of_a_5000_member_organization_is_reachable(big: Tenant) -> None:
    org = auth0.get_organization_by_name(name="big-co")
    seen: dict[str, auth0.Member] = {}
    pages = 0
    cursor: str | None = None
    auth0.reset_upstream_stats()
    while True:
        page = auth0.list_members(org_id=org.id, from_=cursor, take=50)
        pages += 1
        for member in page.members:
            assert member.user_id not in seen  # every id exactly once
            seen[member.user_id] = member
        if page.next is None:
            break
        cursor = page.next
    assert set(seen) == set(big.store.members[org.id]) and len(seen) == MEMBERS
    # Members come with their roles: one call per page (plus Auth0's final empty page).
    assert pages == MEMBERS // 50 + 1 and auth0.upstream_stats().calls == pages
    with_roles = [m for m in seen.values() if m.roles]
    assert len(with_roles) > MEMBERS // 4
    sample = with_roles[-1]
    held = big.store.member_roles[(org.id, sample.user_id)]
    assert [r.id for r in sample.roles] == held


def test_jump_by_exact_id_and_name_at_the_end_of_a_big_tenant(big: Tenant, operator_client) -> None:
    last_id = max(big.store.orgs, key=lambda oid: (big.store.org_created[oid], oid))
    last = big.store.orgs[last_id]
    auth0.reset_upstream_stats()
    assert auth0.get_organization(org_id=last_id).name == last["name"]
    assert auth0.get_organization_by_name(name=last["name"]).id == last_id
    assert auth0.upstream_stats().calls == 2  # one call each: no walking the list
    detail = reverse("orgs:detail", args=[last_id])
    for query in (last_id, last["name"], last["name"].upper()):
        r = operator_client.get(reverse("orgs:list"), {"q": query})
        assert r.status_code == 302 and r["Location"] == detail
        assert r["X-Upstream-Calls"] == "1"


def test_find_a_member_by_email_in_a_5000_member_organization(big: Tenant) -> None:
    org = auth0.get_organization_by_name(name="big-co")
    members = big.store.members[org.id]
    last = max(members, key=lambda uid: (members[uid], uid))
    email = big.store.users[last]["email"]
    auth0.reset_upstream_stats()
    found = auth0.find_members(org_id=org.id, email=email.upper())
    assert [m.user_id for m in found] == [last]
    assert [r.id for r in found[0].roles] == big.store.member_roles.get((org.id, last), [])
    assert auth0.upstream_stats().calls == 2  # one user search + the member's roles
    # A prefix finds several, bounded: one search plus one roles call per member shown.
    auth0.reset_upstream_stats()
    several = auth0.find_members(org_id=org.id, email=email.split(".")[0], limit=5)
    assert 1 <= len(several) <= 5
    assert auth0.upstream_stats().calls == 1 + len(several)
    assert auth0.find_members(org_id=org.id, email="nobody@nowhere.example") == []


def test_pages_of_a_big_tenant_cost_what_they_cost_on_a_small_one(
    big: Tenant, operator_client
) -> None:
    org = auth0.get_organization_by_name(name="big-co")
    auth0.domain_connection_index()  # warm, as it is after the first page view
    calls = {
        "list": operator_client.get(reverse("orgs:list")),
        "page": operator_client.get(reverse("orgs:detail", args=[org.id])),
        "connections": operator_client.get(
            reverse("connections:list", args=[org.id]), headers=HTMX
        ),
        "members": operator_client.get(reverse("orgs:members", args=[org.id]), headers=HTMX),
    }
    assert {k: r.status_code for k, r in calls.items()} == dict.fromkeys(calls, 200)
    assert {k: r["X-Upstream-Calls"] for k, r in calls.items()} == dict.fromkeys(calls, "1")


# --- the fewest upstream calls: every page and action, warm ----------------------------------


def _changes(tenant: Tenant) -> list[str]:
    return [r["method"] for r in api_requests(tenant) if r["method"] != "GET"]


@pytest.fixture
def warm(tenant: Tenant, operator_client) -> dict[str, Any]:
    """The acme organization with a connection, big-co with a member, the index cached."""
    acme = auth0.get_organization_by_name(name="acme").id
    big = auth0.get_organization_by_name(name="big-co").id
    member = auth0.list_members(org_id=big, take=50).members[-1]
    held = {r.id for r in member.roles}
    role = next(r for r in auth0.list_roles() if r.id not in held)
    auth0.domain_connection_index()
    operator_client.get(reverse("orgs:list"))  # the session exists
    tenant.clear_log()
    return {
        "acme": acme,
        "big": big,
        "member": member,
        "role": role,
        "connection": auth0.list_enabled_connections(org_id=acme)[0],
    }


def _page_calls(client, tenant: Tenant, url: str, data: dict | None = None, **kw: Any) -> int:
    tenant.clear_log()
    r = client.get(url, data or {}, **kw)
    assert r.status_code in (200, 302)
    assert int(r["X-Upstream-Calls"]) == len(api_requests(tenant))
    return len(api_requests(tenant))


def test_each_page_costs_one_upstream_call_and_the_role_picker_two(
    operator_client, tenant: Tenant, warm: dict[str, Any]
) -> None:
    c, big, acme = operator_client, warm["big"], warm["acme"]
    member = warm["member"]
    assert _page_calls(c, tenant, reverse("orgs:list")) == 1
    assert _page_calls(c, tenant, reverse("orgs:list"), {"q": "big-co"}) == 1
    assert _page_calls(c, tenant, reverse("orgs:detail", args=[big])) == 1
    assert _page_calls(c, tenant, reverse("connections:list", args=[acme]), headers=HTMX) == 1
    assert _page_calls(c, tenant, reverse("orgs:members", args=[big]), headers=HTMX) == 1
    find = {"email": member.email}
    assert _page_calls(c, tenant, reverse("orgs:members", args=[big]), find, headers=HTMX) == 2
    picker = reverse("orgs:role-picker", args=[big])
    assert _page_calls(c, tenant, picker, {"user_id": member.user_id}, headers=HTMX) <= 2


def test_connection_actions_are_one_change_and_at_most_one_refresh(
    operator_client, tenant: Tenant, warm: dict[str, Any]
) -> None:
    c, acme, connection = operator_client, warm["acme"], warm["connection"]
    cid = connection.connection_id
    toggle = reverse("connections:domain-level", args=[acme, cid])
    c.get(toggle, headers=HTMX)  # the confirm step
    now = auth0.domain_connection_index()[cid].is_domain_connection
    tenant.clear_log()
    r = c.post(toggle, {"is_domain_connection": str(not now).lower()}, headers=HTMX)
    assert r.status_code == 200 and _changes(tenant) == ["PATCH"]
    assert len(api_requests(tenant)) <= 2
    # The index was updated in place: the next connections part costs one call, not a re-walk.
    assert _page_calls(c, tenant, reverse("connections:list", args=[acme]), headers=HTMX) == 1
    assert auth0.domain_connection_index()[cid].is_domain_connection is (not now)
    remove = reverse("connections:remove", args=[acme, cid])
    c.get(remove, headers=HTMX)  # the confirm step
    tenant.clear_log()
    r = c.post(remove, {"name": connection.name}, headers=HTMX)
    assert r.status_code == 200 and _changes(tenant) == ["DELETE"]
    assert len(api_requests(tenant)) <= 2


def test_remove_role_is_one_change_and_one_refresh(
    operator_client, tenant: Tenant, warm: dict[str, Any]
) -> None:
    big, member, role = warm["big"], warm["member"], warm["role"]
    auth0.assign_member_roles(org_id=big, user_id=member.user_id, role_ids=[role.id])
    tenant.clear_log()
    r = operator_client.post(
        reverse("orgs:remove-role", args=[big]),
        {"user_id": member.user_id, "role": role.id},
        headers=HTMX,
    )
    assert r.status_code == 200 and _changes(tenant) == ["DELETE"]
    assert len(api_requests(tenant)) == 2


def test_assign_roles_after_the_picker_is_one_change_and_one_refresh(
    operator_client, tenant: Tenant, warm: dict[str, Any]
) -> None:
    big, member, role = warm["big"], warm["member"], warm["role"]
    picker = reverse("orgs:role-picker", args=[big])
    operator_client.get(picker, {"user_id": member.user_id}, headers=HTMX)  # as in the browser
    tenant.clear_log()
    r = operator_client.post(
        reverse("orgs:assign-roles", args=[big]),
        {"user_id": member.user_id, "roles": [role.id]},
        headers=HTMX,
    )
    assert r.status_code == 200 and _changes(tenant) == ["POST"]
    assert len(api_requests(tenant)) == 2
    assert role.id in {r.id for r in auth0.get_member_roles(org_id=big, user_id=member.user_id)}


# --- a token per lifetime, shared by workers -----------------------------------------------------


def _worker(cache_url: str, base_url: str, calls: int, start: Any, results: Any, name: str) -> None:
    """A separate Org Desk process (its own requests session), sharing only the cache."""
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    os.environ["TEST_CACHE_URL"] = cache_url
    import django

    django.setup()
    from django.conf import settings

    from adminsite import auth0 as service

    point_at(settings, base_url)
    if start is not None:
        start.wait(timeout=30)
    outcome: list[str] = []
    for _ in range(calls):
        try:
            service.get_organization_by_name(name="acme")
            outcome.append("ok")
        except service.RateLimited as exc:
            outcome.append(f"rate-limited:{exc.retry_after}")
        except service.Auth0Error as exc:  # pragma: no cover - reported to the test
            outcome.append(f"error:{exc}")
    results.put((name, outcome))


def run_workers(
    cache_url: str, base_url: str, count: int, calls: int = 1, *, together: bool = True
) -> dict[str, list[str]]:
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    start = ctx.Barrier(count) if together else None
    procs = [
        ctx.Process(target=_worker, args=(cache_url, base_url, calls, start, results, f"w{i}"))
        for i in range(count)
    ]
    found: dict[str, list[str]] = {}
    if together:
        for proc in procs:
            proc.start()
    for proc in procs:
        if not together:
            proc.start()
            proc.join(60)
        name, outcome = results.get(timeout=60)
        found[name] = outcome
    for proc in procs:
        proc.join(30)
        assert proc.exitcode == 0
    return found


@pytest.fixture
def small_server() -> Iterator[SandboxServer]:
    server = serve(Tenant(organizations=60, big_org_members=60))
    yield server
    server.shutdown()


def flush(redis_url: str) -> None:
    import redis

    with redis.Redis.from_url(redis_url) as client:
        client.flushdb()


def test_workers_starting_together_fetch_one_token_through_redis(
    redis_url: str, small_server: SandboxServer
) -> None:
    flush(redis_url)
    outcome = run_workers(redis_url, small_server.url, count=3, calls=2)
    assert outcome == {f"w{i}": ["ok", "ok"] for i in range(3)}
    assert token_requests(small_server.tenant) == 1
    assert len(api_requests(small_server.tenant)) == 6


def test_workers_share_the_token_through_a_file_cache(
    tmp_path: Path, small_server: SandboxServer
) -> None:
    url = f"filecache://{tmp_path / 'cache'}"
    outcome = run_workers(url, small_server.url, count=2, together=False)
    assert outcome == {"w0": ["ok"], "w1": ["ok"]}
    assert token_requests(small_server.tenant) == 1


def test_threads_share_the_token_and_a_new_one_follows_its_expiry(
    settings: Any, small_server: SandboxServer
) -> None:
    point_at(settings, small_server.url)
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(lambda _: auth0.get_organization_by_name(name="acme"), range(12)))
    assert token_requests(small_server.tenant) == 1
    small_server.tenant.expire_tokens()  # its lifetime ends early: one refresh, then shared
    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(lambda _: auth0.get_organization_by_name(name="acme"), range(12)))
    assert token_requests(small_server.tenant) == 2


# --- the rate-limit budget, shared by workers ------------------------------------------------


def statuses(tenant: Tenant) -> list[int]:
    return [r["status"] for r in api_requests(tenant)]


def test_a_spent_budget_fails_fast_without_reaching_auth0(big: Tenant) -> None:
    auth0.get_organization_by_name(name="acme")  # token and first reading
    big.set_rate_limit(4, window=60)
    big.clear_log()
    for _ in range(4):
        auth0.get_organization_by_name(name="acme")
    started = time.monotonic()
    with pytest.raises(auth0.RateLimited) as caught:
        auth0.get_organization_by_name(name="acme")
    assert time.monotonic() - started < 0.5  # no waiting out a long reset
    assert statuses(big) == [200] * 4  # the fifth call never reached the tenant
    assert 10 <= caught.value.retry_after <= 61
    # Another endpoint has its own budget upstream; Org Desk only knows what it was told.
    with pytest.raises(auth0.RateLimited):
        auth0.list_organizations()
    assert statuses(big) == [200] * 4 + [429]


def test_a_short_reset_is_waited_for(big: Tenant) -> None:
    auth0.get_organization_by_name(name="acme")
    big.set_rate_limit(2, window=1.5)
    big.clear_log()
    started = time.monotonic()
    for _ in range(4):
        auth0.get_organization_by_name(name="acme")
    assert time.monotonic() - started >= 0.5  # it waited for the budget to refill ...
    assert 429 not in statuses(big)  # ... instead of hammering


def test_workers_share_the_budget_through_redis(
    redis_url: str, big: Tenant, big_server: SandboxServer
) -> None:
    flush(redis_url)
    big.set_rate_limit(5, window=60)
    big.clear_log()
    first = run_workers(redis_url, big_server.url, count=1, calls=5)
    assert first == {"w0": ["ok"] * 5}
    assert statuses(big) == [200] * 5
    second = run_workers(redis_url, big_server.url, count=1, calls=2)
    assert [o.split(":")[0] for o in second["w0"]] == ["rate-limited"] * 2
    assert statuses(big) == [200] * 5  # the second worker never reached the tenant
    assert token_requests(big) == 1
