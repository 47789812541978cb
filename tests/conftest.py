"""Shared fixtures: the sandbox tenant (in-process or over HTTP), users, and the browser."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

# Playwright's sync API keeps an asyncio loop running in the main thread for the whole session;
# Django's async-unsafe guard would then refuse ORM calls from tests. Nothing in Django runs
# concurrently with that loop, so the guard is switched off for tests, and only here.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
    }


@pytest.fixture(scope="session", autouse=True)
def _flush_past_the_audit_trigger() -> Iterator[None]:
    """On PostgreSQL a trigger refuses TRUNCATE of the audit log (adminsite/audit migration
    0003); the flush after each transactional test turns the table's triggers off for its own
    transaction only, and on again."""
    try:
        from django.db.backends.postgresql.operations import DatabaseOperations
    except ImportError:  # no psycopg: no PostgreSQL either
        yield
        return
    table = "adminsite_auditentry"
    flush = DatabaseOperations.sql_flush

    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        sql = flush(
            self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade
        )
        if table not in tables or not sql:
            return sql
        return [
            f"ALTER TABLE {table} DISABLE TRIGGER USER",
            *sql,
            f"ALTER TABLE {table} ENABLE TRIGGER USER",
        ]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(DatabaseOperations, "sql_flush", sql_flush)
        yield


@pytest.fixture(autouse=True)
def _plain_static_storage(settings) -> None:
    # Production uses whitenoise's manifest storage, which needs collectstatic first.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    from django.core.cache import cache

    from adminsite.audit.recording import forget_remembered

    cache.clear()
    forget_remembered()  # what this process wrote to the cache is gone with it
    yield
    cache.clear()
    forget_remembered()


@pytest.fixture
def tenant():
    """The process-wide in-process sandbox tenant, freshly seeded for this test."""
    from adminsite.sandbox import default_tenant

    t = default_tenant()
    t.reset()
    yield t
    t.clear_faults()
    t.reset()


@pytest.fixture(scope="session")
def _sandbox_server():
    from adminsite.sandbox import Tenant, serve

    tenant = Tenant(organizations=1100, big_org_members=1100)
    server = serve(tenant)
    yield server, tenant
    server.shutdown()


@pytest.fixture
def http_tenant(_sandbox_server, settings):
    """A sandbox tenant served over real HTTP, with Org Desk pointed at it like at Auth0."""
    server, t = _sandbox_server
    settings.AUTH0_SANDBOX = False
    settings.AUTH0_BASE_URL = server.url
    settings.AUTH0_AUDIENCE = server.url + "/api/v2/"
    settings.AUTH0_CLIENT_ID = "org-desk-sandbox"
    settings.AUTH0_CLIENT_SECRET = "sandbox-secret"
    settings.AUTH0_TIMEOUT = 2.0
    # A request an earlier test gave up on (a delay past the timeout) still changes the tenant
    # when its delay ends: let it finish before the reset, not in the middle of this test.
    assert server.wait_idle(), "the sandbox server is still busy with an earlier test's request"
    t.reset()
    yield t
    t.clear_faults()


@pytest.fixture
def operator(django_user_model):
    return django_user_model.objects.create_user(
        "olivia", password="pw-operator", is_superuser=True
    )


@pytest.fixture
def viewer(django_user_model):
    return django_user_model.objects.create_user("victor", password="pw-viewer")


@pytest.fixture
def operator_client(client, operator):
    client.force_login(operator)
    return client


@pytest.fixture
def viewer_client(client, viewer):
    client.force_login(viewer)
    return client


# `make test` runs the suite twice: on SQLite, then on a throwaway PostgreSQL
# (tests/pgcluster.py) with ORGDESK_DATABASE_TESTS_ONLY=1, where only the tests that touch the
# database run again. pytest-django refuses database access to any test without its marker or
# one of these fixtures, so they name exactly the tests that touch it.
DATABASE_FIXTURES = {
    "db",
    "transactional_db",
    "django_db_reset_sequences",
    "django_db_serialized_rollback",
    "live_server",
}


def touches_database(item: pytest.Item) -> bool:
    fixtures = set(getattr(item, "fixturenames", ()))
    return item.get_closest_marker("django_db") is not None or bool(fixtures & DATABASE_FIXTURES)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("ORGDESK_DATABASE_TESTS_ONLY") != "1":
        return
    kept = [item for item in items if touches_database(item)]
    config.hook.pytest_deselected(items=[item for item in items if not touches_database(item)])
    items[:] = kept


def pytest_report_header(config: pytest.Config) -> str:
    from django.conf import settings

    engine = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
    only = os.environ.get("ORGDESK_DATABASE_TESTS_ONLY") == "1"
    return f"database: {engine}{' (only the tests that touch it)' if only else ''}"


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A throwaway redis-server for the session (make test installs Debian's redis-server);
    its URL. Tests that use it flush what they need."""
    import subprocess
    import time

    import redis

    from tests.pgcluster import free_port

    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("no redis-server binary (apt-get install redis-server)")
    port = free_port()
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=tmp_path_factory.mktemp("redis"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(host="127.0.0.1", port=port)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            break
        except redis.ConnectionError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                pytest.fail("redis-server did not start")
            time.sleep(0.05)
    client.close()
    yield f"redis://127.0.0.1:{port}/0"
    proc.terminate()
    proc.wait(10)
