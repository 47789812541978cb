"""What a request costs besides its upstream calls (issue #14 item 5), held by counting, not timing.

- A signed-in request behind the SSO proxy makes no database query: the session comes from the
  cache (cached_db, production's engine with Redis), the user and their `operators` membership
  from adminsite.usercache, and a request whose groups change nothing writes nothing.
- A change of the proxy's groups still changes what the person may do on the very request.
- With Redis, an upstream call costs one round trip to it (token and rate budget together).
- Database connections are kept (DB_CONN_MAX_AGE) and checked before reuse, on PostgreSQL
  without a round trip unless the server has spoken (adminsite/postgresql).
"""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import unquote

import psycopg
import pytest
from django.contrib.auth.models import Group
from django.db import connection
from django.test import Client
from django.urls import reverse

from adminsite import afteranswer, auth0, usercache
from adminsite.auth0 import client as client_module
from adminsite.permissions import OPERATORS_GROUP
from tests.adminsite.helpers import ALICE, _user, via_proxy
from tests.helpers import HTMX

ROOT = Path(__file__).resolve().parents[2]
OPERATOR = "orgdesk-operators"

pytestmark = pytest.mark.django_db


@pytest.fixture
def cached_sessions(settings):
    settings.SESSION_ENGINE = "adminsite.sessions"  # production's with a shared cache
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
        "print(d['CONN_MAX_AGE'], d['CONN_HEALTH_CHECKS'], s.SESSION_ENGINE.rsplit('.', 1)[1], "
        "d['ENGINE'])"
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
    postgres, sqlite = "adminsite.postgresql", "django.db.backends.sqlite3"
    assert _settings_in_a_subprocess(**pg) == f"60 True db {postgres}"
    assert _settings_in_a_subprocess(**pg, DB_CONN_MAX_AGE="0") == f"0 True db {postgres}"
    # SQLite: a connection per request
    assert _settings_in_a_subprocess() == f"0 True db {sqlite}"
    redis = {"CACHE_URL": "redis://127.0.0.1:6379/0"}
    assert (
        _settings_in_a_subprocess(**pg, **redis) == f"60 True sessions {postgres}"
    )  # adminsite.sessions: cached_db


on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL's kept connections (make test's 2nd pass)"
)


def kept_connection() -> Any:
    """The thread's connection wrapper, with the health-check flag Django's stubs leave out."""
    return connection


def _statements_sent(check: Callable[[], None]) -> list[str]:
    """The SQL the psycopg connection was sent while `check` ran (Django's own logging skips
    the health check's cursor, so the driver is watched)."""
    sent: list[str] = []
    real = psycopg.Cursor.execute

    def execute(self, query, *args, **kwargs):
        sent.append(str(query))
        return real(self, query, *args, **kwargs)

    with mock.patch.object(psycopg.Cursor, "execute", execute):
        check()
    return sent


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_kept_connection_is_checked_without_a_round_trip() -> None:
    connection.ensure_connection()
    kept = connection.connection
    kept_connection().health_check_done = False  # as at the start of every request

    assert _statements_sent(connection.close_if_health_check_failed) == []
    assert connection.connection is kept and kept_connection().health_check_done
    with connection.cursor() as cursor:
        cursor.execute("SELECT 2")
        assert cursor.fetchone() == (2,)


@on_postgresql
@pytest.mark.django_db(transaction=True)
def test_a_connection_the_server_ended_is_replaced_before_use() -> None:
    """A restart or pg_terminate_backend while the connection sat idle: the server's goodbye
    makes the socket readable, the check asks the server, and a new connection is used."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    kept = connection.connection
    params = connection.get_connection_params()
    with psycopg.connect(**params, autocommit=True) as other:
        assert other.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone() == (True,)
    deadline = time.monotonic() + 5
    while not select.select([kept.pgconn.socket], [], [], 0)[0]:
        assert time.monotonic() < deadline, "the server's goodbye never arrived"
        time.sleep(0.01)
    kept_connection().health_check_done = False

    sent = _statements_sent(connection.close_if_health_check_failed)

    assert sent == ["SELECT 1"]  # asked, because the server had spoken
    assert connection.connection is None  # closed: the next query opens a new one
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid


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


# --- the session and the user in one round trip ------------------------------------------------


def test_the_session_and_the_user_are_read_in_one_redis_round_trip(
    client, sso, cached_sessions, redis_cache: list[bytes], tenant, acme
) -> None:
    """Behind the proxy the header names the user before the session is read: one MGET holds
    the session, the user's entry by that name and the generation; nothing reads them again."""
    for _ in range(2):
        _part(client, acme, OPERATOR)  # signs in, then caches the user by name
    session_key = client.cookies["sessionid"].value
    redis_cache.clear()
    body = _part(client, acme, OPERATOR)
    assert "Remove…" in body  # an operator, as the header says
    first = redis_cache[0]
    assert first.startswith(b"*") and b"MGET" in first
    assert session_key.encode() in first
    assert usercache.name_key(ALICE).encode() in first and b"orgdesk:users:generation" in first
    assert sum(session_key.encode() in c for c in redis_cache) == 1  # not read a second time
    assert not any(b"orgdesk:user:" in c for c in redis_cache)  # nor the user by id
    assert not any(b"GET" in c and b"orgdesk:user-named" in c for c in redis_cache[1:])


def _script_runs(sent: list[bytes]) -> int:
    return sum(b"EVALSHA" in c or b"EVAL\r" in c for c in sent)


def test_a_requests_calls_take_the_token_read_with_the_session(
    client, sso, cached_sessions, redis_cache: list[bytes], tenant, acme
) -> None:
    """No budget shared: the session's MGET also brings the token, and the page's upstream call
    needs no round trip of its own (no token-and-budget script)."""
    for _ in range(2):
        _part(client, acme, OPERATOR)
    tenant.clear_log()
    redis_cache.clear()
    body = _part(client, acme, OPERATOR)
    assert "okta-workforce" in body  # the connections part, from Auth0's answer
    first = redis_cache[0]
    assert b"MGET" in first and client_module._token_key().encode() in first
    assert client_module._shared_key().encode() in first
    assert _script_runs(redis_cache) == 0, redis_cache
    [call] = [r for r in tenant.requests_log if r["raw_path"].startswith("/api/v2/")]
    assert not any(r["raw_path"] == "/oauth/token" for r in tenant.requests_log)
    # Every call of the request takes it, until a 401 withdraws it: then the cache is read.
    from adminsite import memo

    token = memo._offered.set({})
    try:
        client_module.offer_early({client_module._token_key(): "t"})
        for _ in range(2):
            assert client_module._token_and_budget("GET", "/api/v2/roles") == ("t", False)
        memo.withdraw(client_module.EARLY)
        redis_cache.clear()
        assert client_module._token_and_budget("GET", "/api/v2/roles")[0] not in (None, "t")
        assert _script_runs(redis_cache) == 1
    finally:
        memo._offered.reset(token)


def test_while_a_budget_is_shared_each_call_reserves_its_request(
    client, sso, cached_sessions, redis_cache: list[bytes], tenant, acme
) -> None:
    from django.core.cache import cache

    for _ in range(2):
        _part(client, acme, OPERATOR)
    reset_key, remaining_key = client_module._bucket_keys(
        "GET", f"/api/v2/organizations/{acme}/enabled_connections"
    )
    until = time.time() + 60
    cache.set_many(
        {reset_key: until, remaining_key: 10, client_module._shared_key(): until}, timeout=60
    )
    redis_cache.clear()
    assert "okta-workforce" in _part(client, acme, OPERATOR)
    [script] = [c for c in redis_cache if b"EVALSHA" in c or b"EVAL\r" in c]
    assert remaining_key.encode() in script  # its request of the shared budget reserved ...
    assert cache.get(remaining_key) == 50  # ... then the count Auth0 reported written back


def test_a_token_read_with_the_session_and_refused_is_replaced_once(
    client, sso, cached_sessions, redis_cache: list[bytes], tenant, acme
) -> None:
    for _ in range(2):
        _part(client, acme, OPERATOR)
    tenant.expire_tokens()
    tenant.clear_log()
    assert "okta-workforce" in _part(client, acme, OPERATOR)  # 401, a new token, the retry
    paths = [r["raw_path"] for r in tenant.requests_log]
    assert paths.count("/oauth/token") == 1 and len(paths) == 3, paths
    tenant.clear_log()
    assert "okta-workforce" in _part(client, acme, OPERATOR)  # the new one, read with the session
    assert [r["raw_path"] for r in tenant.requests_log if r["raw_path"] == "/oauth/token"] == []


def test_after_a_401_the_requests_later_calls_take_the_new_token(tenant) -> None:
    """The token read with the session was refused: the call takes the cache's and retries,
    and the request's next calls use that one (not the refused one: no second 401)."""
    from adminsite import memo

    auth0.list_roles(per_page=5)  # a token in the cache
    token = memo._offered.set({})
    try:
        client_module.offer_early({client_module._token_key(): "refused-token"})
        tenant.clear_log()
        auth0.list_roles(per_page=5)
        auth0.list_roles(per_page=5)
    finally:
        memo._offered.reset(token)
    sent = [(r["raw_path"], str(r["status"])[:3]) for r in tenant.requests_log]
    # The cache held a good token: the retry took it, no fetch needed, and no second 401.
    assert sent == [("/api/v2/roles", "401")] + [("/api/v2/roles", "200")] * 2, sent


def test_the_shared_marker_keeps_the_latest_reset(redis_cache: list[bytes]) -> None:
    import requests
    from django.core.cache import cache

    def answer(remaining: int, reset: float) -> requests.Response:
        r = requests.Response()
        r.status_code = 200
        r.headers.update(
            {
                "x-ratelimit-limit": "100",
                "x-ratelimit-remaining": str(remaining),
                "x-ratelimit-reset": str(int(reset)),
            }
        )
        return r

    now = time.time()
    assert not client_module._note_budget(answer(90, now + 30), "GET", "/api/v2/roles", False)
    assert cache.get(client_module._shared_key()) is None  # plenty left: nothing shared
    assert client_module._note_budget(answer(3, now + 30), "GET", "/api/v2/roles", False)
    assert cache.get(client_module._shared_key()) == int(now + 30)
    assert client_module._note_budget(answer(2, now + 10), "GET", "/api/v2/users", False)
    assert cache.get(client_module._shared_key()) == int(now + 30)  # the later reset kept
    assert client_module._note_budget(answer(1, now + 50), "GET", "/api/v2/users", True)
    assert cache.get(client_module._shared_key()) == int(now + 50)


def test_a_renamed_account_is_not_kept_under_its_old_name(
    client, sso, cached_sessions, tenant, acme
) -> None:
    """A user saved in the admin may have been renamed: every cached entry goes stale, so the
    header's old name cannot keep the session of the renamed account."""
    for _ in range(2):
        _part(client, acme, OPERATOR)
    alice = _user(ALICE)
    alice.username = "alice.renamed@example.com"
    alice.save()
    r = client.get(reverse("orgs:list"), **via_proxy(groups=OPERATOR))
    assert r.status_code == 200
    signed_in = r.wsgi_request.user
    assert signed_in.get_username() == ALICE and signed_in.pk != alice.pk  # a new account


def test_a_cached_entry_of_another_person_is_not_taken_for_the_sessions_user(
    client, sso, cached_sessions, tenant, acme
) -> None:
    """The entry by name is used only when it is the user the session names: a session of
    Bob's with Alice's header switches to Alice, it does not become Alice's by the cache."""
    bob = "bob@example.com"
    for _ in range(2):
        _part(client, acme, OPERATOR)  # Alice's entry is cached by her name
    other = type(client)()
    for _ in range(2):
        other.get(reverse("orgs:list"), **via_proxy(email=bob, groups="staff"))
    bobs_session = other.cookies["sessionid"].value
    r = other.get(reverse("orgs:list"), **via_proxy(groups="staff"))  # Bob's session, Alice's name
    assert r.status_code == 200
    assert r.wsgi_request.user.get_username() == ALICE
    # Signed in afresh (a new session), not carried on in Bob's as someone else.
    assert other.cookies["sessionid"].value not in (bobs_session, "")
    assert r.wsgi_request.session["_auth_user_id"] == str(_user(ALICE).pk)


# --- shared indexes read once a request; a value used once read and deleted at once ------------


def test_a_value_used_once_is_read_and_deleted_in_one_round_trip(redis_cache: list[bytes]) -> None:
    from django.core.cache import cache

    from adminsite import memo

    cache.set("stash", {"roles": ["rol_1"]})
    cache.set("org-name", "Acme")
    redis_cache.clear()
    value, found = memo.take("stash", "org-name", "never-set")
    assert value == {"roles": ["rol_1"]} and found == {"org-name": "Acme"}
    assert len(redis_cache) == 1 and b"MGET" in redis_cache[0] and b"DEL" in redis_cache[0]
    assert cache.get("stash") is None and cache.get("org-name") == "Acme"
    assert memo.take("stash") == (None, {})  # gone: a second use finds nothing


def test_within_a_request_an_index_is_read_once(redis_cache: list[bytes], rf) -> None:
    from django.core.cache import cache
    from django.http import HttpResponse

    from adminsite import memo

    cache.set("index", {"a": 1})
    seen: list[object] = []

    def view(request) -> HttpResponse:
        redis_cache.clear()
        seen.extend([memo.get("index"), memo.get_many(["index", "other"]), memo.get("other")])
        reads = len(redis_cache)
        memo.set("other", 2, timeout=60)  # a write goes to the cache and is seen after it
        seen.extend([reads, memo.get("other"), len(redis_cache)])
        memo.delete("index")
        seen.append(memo.get("index"))
        return HttpResponse()

    memo.RequestMemoMiddleware(view)(rf.get("/"))
    assert seen == [{"a": 1}, {"index": {"a": 1}}, None, 2, 2, 3, None]
    assert cache.get("other") == 2 and cache.get("index") is None
    # Outside a request nothing is kept: each read goes to the cache.
    cache.set("index", {"a": 2})
    assert memo.get("index") == {"a": 2}


def test_bookkeeping_is_written_once_the_answer_is_sent(rf, caplog) -> None:

    from django.core.cache import cache
    from django.http import HttpResponse

    from adminsite import memo

    seen: list[object] = []

    def view(request) -> HttpResponse:
        memo.set_after_answer({"seen": ["u1"]}, timeout=60)
        seen.extend([memo.get("seen"), cache.get("seen")])  # the request sees it, not yet cached
        return HttpResponse("done")

    response = afteranswer.AfterAnswerMiddleware(memo.RequestMemoMiddleware(view))(rf.get("/"))
    assert seen == [["u1"], None]
    assert cache.get("seen") is None  # the answer is on its way
    response.close()  # the server sent its last byte
    assert cache.get("seen") == ["u1"]
    # Outside a request: written at once.
    memo.set_after_answer({"later": 1}, timeout=60)
    assert cache.get("later") == 1

    # A write that fails after the answer is logged: the person has their answer already.
    def failing(request) -> HttpResponse:
        memo.set_after_answer({"seen": ["u2"]}, timeout=60)
        return HttpResponse()

    response = afteranswer.AfterAnswerMiddleware(memo.RequestMemoMiddleware(failing))(rf.get("/"))
    logged = _closed_while_failing(response, "adminsite.memo.cache.set_many", caplog)
    assert cache.get("seen") == ["u1"]
    assert logged == ["Could not write 1 cache entries after the answer"]


def _closed_while_failing(response: Any, failing: str, caplog: Any) -> list[str]:
    """Close `response` (the server sent its last byte) while `failing` raises: what
    adminsite.memo logged."""
    import logging

    with (
        mock.patch(failing, side_effect=ConnectionError("gone")),
        caplog.at_level(logging.ERROR, logger="adminsite.memo"),
    ):
        response.close()
    return [r.getMessage() for r in caplog.records]


def test_an_entry_deleted_after_the_answer_is_gone_for_the_request_at_once(rf, caplog) -> None:
    from django.core.cache import cache
    from django.http import HttpResponse

    from adminsite import memo

    cache.set("kept", [1], 60)
    seen: list[object] = []

    def view(request) -> HttpResponse:
        memo.get("kept")
        memo.delete_after_answer("kept")
        seen.extend([memo.get("kept"), cache.get("kept")])  # gone for the request, not yet cached
        return HttpResponse("done")

    response = afteranswer.AfterAnswerMiddleware(memo.RequestMemoMiddleware(view))(rf.get("/"))
    assert seen == [None, [1]]
    assert cache.get("kept") == [1]  # the answer is on its way
    response.close()
    assert cache.get("kept") is None
    cache.set("now", 1, 60)
    memo.delete_after_answer("now")  # outside a request: at once
    assert cache.get("now") is None

    cache.set("kept", [2], 60)

    def failing(request) -> HttpResponse:
        memo.delete_after_answer("kept")
        return HttpResponse()

    response = afteranswer.AfterAnswerMiddleware(memo.RequestMemoMiddleware(failing))(rf.get("/"))
    logged = _closed_while_failing(response, "adminsite.memo.cache.delete", caplog)
    assert cache.get("kept") == [2]
    assert logged == ["Could not delete a cache entry after the answer"]


def test_an_invitation_reads_what_it_names_in_one_round_trip(
    operator_client, redis_cache: list[bytes], tenant, acme
) -> None:
    """The applications, the names of roles and people, the connection index and the
    organization's name: one MGET before the change, none read again."""
    from tests.orgs.test_invitations import _apps, _invite_data, _open_form

    _open_form(operator_client, acme)  # lists the applications, as a person does first
    operator_client.get(reverse("orgs:detail", args=[acme]))  # remembers the display name
    dashboard = _apps()["Acme Dashboard"].client_id
    conn = auth0.list_enabled_connections(org_id=acme)[0]
    auth0.domain_connection_index()
    redis_cache.clear()
    data = _invite_data(dashboard, connection_id=conn.connection_id)
    r = operator_client.post(reverse("orgs:invite", args=[acme]), data, headers=HTMX)
    assert "Invited new.person@example.org" in r.content.decode()
    wanted = [b"orgs:invite-clients", b"orgs:role-names", b"orgs:people", b"auth0:connections"]
    wanted.append(f"audit:org-name:{acme}".encode())
    [together] = [c for c in redis_cache if all(k in c for k in wanted)]
    assert b"MGET" in together
    assert [c for c in redis_cache if any(k in c for k in wanted)] == [together]


def _read_together(sent: list[bytes], *keys: bytes) -> bytes:
    """The one round trip that read all of `keys`; none of them is read in another."""
    [together] = [c for c in sent if all(k in c for k in keys)]
    assert b"MGET" in together
    assert [c for c in sent if any(k in c for k in keys)] == [together]
    return together


NAMES = (b"orgs:role-names", b"orgs:people")


def test_the_invitations_list_reads_what_it_names_in_one_round_trip(
    operator_client, redis_cache: list[bytes], tenant, acme
) -> None:
    """The names of roles and people, the connection index and the applications: one MGET
    after the session's (three before)."""
    url = reverse("orgs:invitations", args=[acme])
    operator_client.get(url, headers=HTMX)
    redis_cache.clear()
    r = operator_client.get(url, headers=HTMX)
    assert 'data-testid="invitation-row"' in r.content.decode()
    _read_together(redis_cache, *NAMES, b"auth0:connections", b"orgs:invite-clients")


def test_a_revocation_takes_its_stash_with_what_it_names_in_one_round_trip(
    operator_client, redis_cache: list[bytes], tenant, acme
) -> None:
    """The confirm step's stash, read and deleted with the names, the connection index (the
    entry's state names the connection) and the organization's name."""
    from tests.orgs.test_invitations import _by_email

    target = _by_email(acme, "contractor@partner.example")
    url = reverse("orgs:revoke-invitation", args=[acme, target.id])
    confirm = operator_client.get(url, headers=HTMX).content.decode()
    assert 'data-testid="confirm-revoke"' in confirm
    redis_cache.clear()
    r = operator_client.post(url, headers=HTMX)
    assert "Revoked the invitation for contractor@partner.example" in r.content.decode()
    together = _read_together(
        redis_cache, *NAMES, b"auth0:connections", f"audit:org-name:{acme}".encode()
    )
    assert target.id.encode() in together and b"DEL" in together  # the stash, taken


def test_a_resend_reads_what_it_names_in_one_round_trip(
    operator_client, redis_cache: list[bytes], tenant, acme
) -> None:
    from tests.orgs.test_invitations import _by_email

    target = _by_email(acme, "contractor@partner.example")
    redis_cache.clear()
    r = operator_client.post(
        reverse("orgs:resend-invitation", args=[acme, target.id]), headers=HTMX
    )
    assert "Sent the invitation to contractor@partner.example again" in r.content.decode()
    _read_together(
        redis_cache,
        *NAMES,
        b"auth0:connections",
        b"orgs:invite-clients",
        f"audit:org-name:{acme}".encode(),
    )


def test_enabling_a_connection_reads_what_it_checks_in_one_round_trip(
    operator_client, redis_cache: list[bytes], tenant, acme
) -> None:
    """The picker's kept ids, the connection index and the organization's name: one MGET
    (three reads before); the kept ids go once the answer is sent."""
    from tests.connections.test_manage import AZURE, add_url, tenant_connection

    operator_client.get(add_url(acme), headers=HTMX)  # the picker: reads and keeps
    azure = tenant_connection(AZURE)
    redis_cache.clear()
    r = operator_client.post(add_url(acme), {"connection_id": azure.id}, headers=HTMX)
    assert f"Enabled the connection {AZURE} for this organization." in r.content.decode()
    picker = b"connections:enabled:"
    reads = [c for c in redis_cache if b"DEL" not in c]
    org_name = f"audit:org-name:{acme}".encode()
    together = _read_together(reads, picker, b"auth0:connections", org_name)
    [deleted] = [i for i, c in enumerate(redis_cache) if b"DEL" in c and picker in c]
    assert deleted > redis_cache.index(together)  # the kept ids go, once the answer is out


def test_a_domain_level_change_reads_its_stash_and_the_index_in_one_round_trip(
    operator_client, redis_cache: list[bytes], tenant, acme
) -> None:
    from tests.connections.test_manage import enabled_by_name

    conn = enabled_by_name(acme, "acme-saml")
    url = reverse("connections:domain-level", args=[acme, conn.connection_id])
    operator_client.get(url, headers=HTMX)  # the confirm step: its read, kept
    redis_cache.clear()
    r = operator_client.post(url, {"is_domain_connection": "true", "name": conn.name}, headers=HTMX)
    assert r.status_code == 200 and 'data-testid="connection-row"' in r.content.decode()
    reads = [c for c in redis_cache if b"\r\nSET\r\n" not in c]  # the index, updated: a write
    _read_together(reads, b"audit:before:", b"auth0:connections", f"audit:org-name:{acme}".encode())


def test_the_add_members_review_reads_the_names_and_members_in_one_round_trip(
    operator_client, redis_cache: list[bytes], tenant, acme
) -> None:
    operator_client.get(reverse("orgs:members", args=[acme]), headers=HTMX)  # members seen
    redis_cache.clear()
    r = operator_client.post(
        reverse("orgs:add-members-review", args=[acme]),
        {"lines": "nobody@nowhere.example"},
        headers=HTMX,
    )
    assert "nobody@nowhere.example" in r.content.decode()
    _read_together(redis_cache, *NAMES, b"orgs:members-seen:")


# --- a view's reads made with the session's (adminsite.readahead) --------------------------------


def _signed_in(client, acme: str) -> None:
    for _ in range(2):
        _part(client, acme, OPERATOR)  # signs in, then caches the user by name


def test_a_part_reads_what_it_names_with_the_session(
    client, sso, cached_sessions, redis_cache: list[bytes], tenant, acme
) -> None:
    """The members part declares the names and the members listed: they come in the session's
    MGET, and the view reads the cache no more."""
    _signed_in(client, acme)
    session_key = client.cookies["sessionid"].value.encode()
    redis_cache.clear()
    r = client.get(reverse("orgs:members", args=[acme]), headers=HTMX, **via_proxy(groups=OPERATOR))
    assert r.status_code == 200 and 'data-testid="member-row"' in r.content.decode()
    first = redis_cache[0]
    assert b"MGET" in first and session_key in first
    assert all(k in first for k in NAMES) and b"orgs:members-seen:" in first
    assert not any(b"GET" in c for c in redis_cache[1:]), redis_cache[1:]  # read nothing more


def _api_calls(tenant) -> list[tuple[str, str]]:
    return [
        (q["method"], unquote(q["raw_path"]))
        for q in tenant.requests_log
        if q["raw_path"].startswith("/api/")
    ]


def _confirmed_removal(client, acme: str) -> tuple[str, str, auth0.Member]:
    member = next(m for m in auth0.list_members(org_id=acme).members if m.roles)
    url = reverse("orgs:remove-member", args=[acme])
    confirm = client.get(
        url, {"user_id": member.user_id}, headers=HTMX, **via_proxy(groups=OPERATOR)
    )
    assert 'data-testid="confirm-remove-member"' in confirm.content.decode()
    return url, member.user_id, member


def test_a_change_takes_its_stash_with_the_session(
    client, sso, cached_sessions, redis_cache: list[bytes], tenant, acme
) -> None:
    """Removing a member after the confirm step: one MULTI/EXEC before the change reads the
    session, the user, the stash (and deletes it), the names and the organization's name. The
    entry's before-state is the stash's: no read of the roles from Auth0."""
    from adminsite.audit.models import AuditEntry

    _signed_in(client, acme)
    url, user_id, member = _confirmed_removal(client, acme)
    session_key = client.cookies["sessionid"].value.encode()
    redis_cache.clear()
    tenant.clear_log()
    r = client.post(url, {"user_id": user_id}, headers=HTMX, **via_proxy(groups=OPERATOR))
    assert r.status_code == 200 and "Removed" in r.content.decode()
    first = redis_cache[0]
    assert b"MULTI" in first and b"MGET" in first and b"DEL" in first
    assert session_key in first and b"audit:roles:" in first
    assert all(k in first for k in NAMES) and f"audit:org-name:{acme}".encode() in first
    assert [c for c in redis_cache if b"audit:roles:" in c] == [first]  # taken once, there
    assert [c for c in redis_cache if b"GET" in c] == [first]  # the view read nothing more
    assert _api_calls(tenant) == [("DELETE", f"/api/v2/organizations/{acme}/members")]
    entry = AuditEntry.objects.latest("pk")
    assert entry.member_id == user_id
    assert isinstance(entry.before, dict)
    assert {r["id"] for r in entry.before["roles"]} == {r.id for r in member.roles}


def test_another_persons_request_cannot_take_my_stash(
    client, sso, cached_sessions, redis_cache: list[bytes], tenant, acme
) -> None:
    """A stash's key names its person (adminsite.readahead.owner): Bob's removal of the member
    Alice confirmed reads the roles from Auth0, and Alice's stash is still there."""
    from django.core.cache import cache

    from adminsite import readahead
    from adminsite.audit import recording

    _signed_in(client, acme)
    url, user_id, _member = _confirmed_removal(client, acme)
    alices = recording.member_stash_key(readahead.owner(ALICE), acme, user_id)
    assert cache.get(alices) is not None
    bob = Client()
    tenant.clear_log()
    for _ in range(2):
        bob.get(reverse("orgs:list"), **via_proxy("bob@example.com", groups=OPERATOR))
    r = bob.post(
        url, {"user_id": user_id}, headers=HTMX, **via_proxy("bob@example.com", groups=OPERATOR)
    )
    assert r.status_code == 200 and "Removed" in r.content.decode()
    assert ("GET", f"/api/v2/organizations/{acme}/members/{user_id}/roles") in _api_calls(tenant)
    assert cache.get(alices) is not None


def test_the_handler_takes_the_match_made_for_the_read_ahead(rf) -> None:
    """adminsite.wsgi's handler resolves a URL once: the match the SSO middleware made (for the
    same path) is the request's; any other path is resolved as Django does."""
    from django.urls import resolve

    from adminsite.readahead import Handler

    handler = Handler()
    request = rf.get("/orgs/")
    made = resolve("/orgs/")
    request.readahead_match = (request.path_info, made)
    assert handler.resolve_request(request) is made and request.resolver_match is made
    other = rf.get("/healthz")
    other.readahead_match = ("/orgs/", made)
    match = handler.resolve_request(other)
    assert match is not made and match.view_name == "healthz"


def test_a_reader_that_fails_leaves_the_reads_to_the_view(
    client, sso, cached_sessions, redis_cache: list[bytes], tenant, acme, caplog, monkeypatch
) -> None:
    """A read-ahead that raises is logged; the view reads what it needs itself and answers."""
    from orgs import members

    def broken(ahead: Any) -> None:
        raise KeyError("org_id")

    monkeypatch.setattr(members.member_list, "reads_ahead", broken)
    _signed_in(client, acme)
    r = client.get(reverse("orgs:members", args=[acme]), headers=HTMX, **via_proxy(groups=OPERATOR))
    assert r.status_code == 200 and 'data-testid="member-row"' in r.content.decode()
    assert "Could not tell what orgs:members reads" in caplog.text
    assert any(all(k in c for k in NAMES) for c in redis_cache[1:])  # read by the view


def test_a_form_django_refuses_is_not_read_ahead(
    client, sso, cached_sessions, redis_cache: list[bytes], tenant, acme, caplog, settings
) -> None:
    """Too many fields: Django answers 400 as it would, and the read-ahead logs no error."""
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 5
    _signed_in(client, acme)
    data = {f"f{i}": "x" for i in range(10)} | {"user_id": "auth0|x"}
    url = reverse("orgs:remove-member", args=[acme])
    r = client.post(url, data, headers=HTMX, **via_proxy(groups=OPERATOR))
    assert r.status_code == 400
    assert "Could not tell" not in caplog.text
