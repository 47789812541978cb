"""What a request costs besides its upstream calls (issue #14 item 5), held by counting, not timing.

- A signed-in request behind the SSO proxy makes no database query: the session comes from the
  cache (cached_db, production's engine with Redis), the user and their `operators` membership
  from adminsite.usercache, and a request whose groups change nothing writes nothing.
- A change of the proxy's groups still changes what the person may do on the very request.
- With Redis, an upstream call costs one round trip to it (token and rate budget together).
- Database connections are kept (DB_CONN_MAX_AGE) and checked before reuse.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from adminsite import auth0, usercache
from adminsite.permissions import OPERATORS_GROUP
from tests.adminsite.helpers import ALICE, _user, via_proxy
from tests.helpers import HTMX

ROOT = Path(__file__).resolve().parents[2]
OPERATOR = "orgdesk-operators"

pytestmark = pytest.mark.django_db


@pytest.fixture
def cached_sessions(settings):
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
    return settings


def _part(client, acme: str, groups: str | None) -> str:
    r = client.get(
        reverse("connections:list", args=[acme]), headers=HTMX, **via_proxy(groups=groups)
    )
    assert r.status_code == 200
    return r.content.decode()


# --- no query per request -----------------------------------------------------------------------


@pytest.mark.parametrize("groups", [OPERATOR, "staff"])
def test_a_signed_in_request_of_a_part_makes_no_query(
    client, sso, cached_sessions, tenant, acme, groups, django_assert_num_queries
) -> None:
    _part(client, acme, groups)  # signs in: creates the user, the session, the membership
    _part(client, acme, groups)  # loads the user once after the sign-in's changes
    with django_assert_num_queries(0):
        body = _part(client, acme, groups)
    assert ("Remove…" in body) is (groups == OPERATOR)


def test_the_page_itself_makes_no_query_either(
    client, sso, cached_sessions, tenant, acme, django_assert_num_queries
) -> None:
    url = reverse("orgs:detail", args=[acme])
    for _ in range(2):
        client.get(url, **via_proxy(groups=OPERATOR))
    with django_assert_num_queries(0):
        r = client.get(url, **via_proxy(groups=OPERATOR))
    assert r.status_code == 200 and "· operator" in r.content.decode()
    assert "sessionid" not in r.cookies  # nothing changed: the session is not saved again


def test_without_a_shared_cache_only_the_session_is_read_from_the_database(
    client, sso, tenant, acme, settings, django_assert_num_queries
) -> None:
    # The tests' cache is local memory: sessions stay in the database (settings.py).
    assert "cached_db" not in settings.SESSION_ENGINE
    for _ in range(2):
        _part(client, acme, OPERATOR)
    with django_assert_num_queries(1):
        _part(client, acme, OPERATOR)


# --- permissions still follow the proxy's groups at once ----------------------------------------


def test_a_changed_groups_header_changes_permissions_on_that_request(
    client, sso, cached_sessions, tenant, acme, django_assert_max_num_queries
) -> None:
    for _ in range(2):
        assert "Remove…" in _part(client, acme, OPERATOR)
    # Dropped from the group: this very request is a viewer's (and writes the membership).
    assert "Remove…" not in _part(client, acme, "staff")
    assert not _user(ALICE).groups.filter(name=OPERATORS_GROUP).exists()
    with django_assert_max_num_queries(2):  # the user and membership read again, no write
        assert "Remove…" not in _part(client, acme, "staff")
    # Back in the group: an operator again at once.
    assert "Remove…" in _part(client, acme, "support-leads")
    assert _user(ALICE).groups.filter(name=OPERATORS_GROUP).exists()


def test_a_viewer_refused_a_change_after_the_header_drops_the_group(
    client, sso, cached_sessions, tenant, acme
) -> None:
    conn = auth0.list_enabled_connections(org_id=acme)[0]
    for _ in range(2):
        _part(client, acme, OPERATOR)
    url = reverse("connections:remove", args=[acme, conn.connection_id])
    r = client.post(url, headers=HTMX, **via_proxy(groups="staff"))
    assert r.status_code == 403


def test_changes_made_in_django_reach_the_cached_user(
    client, sso, cached_sessions, tenant, acme
) -> None:
    for _ in range(2):
        _part(client, acme, "staff")
    alice = _user(ALICE)
    alice.is_superuser = True  # e.g. in the admin
    alice.save()
    assert "Remove…" in _part(client, acme, "staff")
    alice.is_superuser = False
    alice.is_active = False
    alice.save()
    r = client.get(reverse("orgs:list"), **via_proxy(groups="staff"))
    assert r.status_code == 403  # deactivated: refused at once


def test_a_deleted_operators_group_makes_cached_users_stale(
    client, sso, cached_sessions, tenant, acme, settings
) -> None:
    settings.SSO_GROUPS_HEADER = ""  # operators managed in Django: nothing re-adds Alice
    settings.SSO_OPERATOR_GROUPS = []
    _part(client, acme, None)
    group, _ = Group.objects.get_or_create(name=OPERATORS_GROUP)
    _user(ALICE).groups.add(group)
    for _ in range(2):
        assert "Remove…" in _part(client, acme, None)
    group.delete()  # no m2m signal for the memberships that go with it
    assert "Remove…" not in _part(client, acme, None)


def test_the_cached_user_is_dropped_when_it_changes(django_user_model) -> None:
    user = django_user_model.objects.create_user("bob@example.com")
    assert usercache.get(user.pk) == user
    user.first_name = "Bob"
    user.save()
    cached = usercache.get(user.pk)
    assert cached is not None and cached.first_name == "Bob"
    user.delete()
    assert usercache.get(user.pk) is None


# --- database connections ------------------------------------------------------------------------


def _settings_in_a_subprocess(**env: str) -> str:
    code = (
        "from django.conf import settings as s; d = s.DATABASES['default']; "
        "print(d['CONN_MAX_AGE'], d['CONN_HEALTH_CHECKS'], s.SESSION_ENGINE.rsplit('.', 1)[1])"
    )
    environment = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DATABASE_URL", "CACHE_URL", "DB_CONN_MAX_AGE")
    }
    environment |= {"DJANGO_SETTINGS_MODULE": "adminsite.settings", "DEBUG": "true"} | env
    done = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); " + code],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_connections_are_kept_and_checked() -> None:
    pg = {"DATABASE_URL": "postgres://orgdesk@127.0.0.1:5432/orgdesk"}
    assert _settings_in_a_subprocess(**pg) == "60 True db"
    assert _settings_in_a_subprocess(**pg, DB_CONN_MAX_AGE="0") == "0 True db"
    assert _settings_in_a_subprocess() == "0 True db"  # SQLite: a connection per request
    redis = {"CACHE_URL": "redis://127.0.0.1:6379/0"}
    assert _settings_in_a_subprocess(**pg, **redis) == "60 True cached_db"


# --- Redis: one round trip per upstream call ----------------------------------------------------


@pytest.fixture
def redis_cache(settings, redis_url: str) -> Iterator[list[bytes]]:
    """Django's cache on the redis-server; yields the list every round trip is appended to."""
    import redis
    from django.core.cache import cache

    settings.CACHES = {"default": {"BACKEND": "adminsite.cache.Cache", "LOCATION": redis_url}}
    cache.clear()
    sent: list[bytes] = []
    original = redis.connection.Connection.send_packed_command

    def counting(self, command, check_health=True):  # one send = one round trip (pipelines too)
        sent.append(command if isinstance(command, bytes) else b"".join(command))
        return original(self, command, check_health)

    redis.connection.Connection.send_packed_command = counting  # type: ignore[method-assign]
    try:
        yield sent
    finally:
        redis.connection.Connection.send_packed_command = original  # type: ignore[method-assign]
        cache.clear()


def test_an_upstream_call_costs_one_redis_round_trip(redis_cache: list[bytes], tenant) -> None:
    auth0.get_organization_by_name(name="acme")  # the token, fetched and stored once
    tenant.clear_log()
    redis_cache.clear()
    for _ in range(5):
        auth0.get_organization_by_name(name="acme")
        auth0.list_organizations(take=5)
    assert len(redis_cache) <= 10, redis_cache
    assert not any(r["raw_path"] == "/oauth/token" for r in tenant.requests_log)


def test_a_budget_running_low_is_shared_through_redis(redis_cache: list[bytes], tenant) -> None:
    auth0.get_organization_by_name(name="acme")
    tenant.set_rate_limit(4, window=60)
    try:
        for _ in range(4):
            auth0.get_organization_by_name(name="acme")  # low at once: written back
        with pytest.raises(auth0.RateLimited):
            auth0.get_organization_by_name(name="acme")  # spent: refused by the script's count
    finally:
        tenant.set_rate_limit(None)


def test_a_password_hash_never_goes_into_the_cache(django_user_model) -> None:
    from django.core.cache import cache

    local = django_user_model.objects.create_user("olga", password="pw-local")
    assert usercache.get(local.pk) == local
    assert cache.get(usercache._key(local.pk)) is None  # loaded from the database each time
    sso_person = django_user_model.objects.create_user("sam@example.com")
    assert usercache.get(sso_person.pk) == sso_person
    assert cache.get(usercache._key(sso_person.pk)) is not None
