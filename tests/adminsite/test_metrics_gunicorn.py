"""Metrics under gunicorn: 2 worker processes, one /metrics that adds up what both counted.

gunicorn.conf.py gives prometheus_client a folder of its own (PROMETHEUS_MULTIPROC_DIR, under
TMPDIR), emptied at start and deleted on exit; a worker that stops keeps its counts but not its
live gauges. Org Desk talks to the sandbox tenant over HTTP, as to Auth0, signed in by SSO
headers as behind the proxy (the proxy being this test on 127.0.0.1).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.adminsite.test_deploy import ROOT, _free_port, production_env, run_python
from tests.helpers import org_id

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

ALICE = {"X-Forwarded-Email": "alice@example.com"}


def scrape(base: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = requests.get(base + "/metrics", timeout=10)
    assert response.status_code == 200, response.text[:300]
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def pids(folder: Path, kind: str) -> set[int]:
    """Processes that wrote values of this kind (counter, histogram, gauge_livesum...)."""
    found = set()
    for path in folder.glob(f"{kind}_*.db"):
        match = re.fullmatch(rf"{kind}_(\d+)\.db", path.name)
        if match:
            found.add(int(match.group(1)))
    return found


@pytest.fixture
def gunicorn(http_tenant, tmp_path) -> Iterator[tuple[str, Path, subprocess.Popen, Path]]:
    """gunicorn with 2 workers on the HTTP sandbox; (base URL, TMPDIR, process, log file)."""
    # Production settings, static files served from the project's folders (no collectstatic).
    (tmp_path / "metrics_settings.py").write_text(
        '"""Production settings with plain static files storage."""\n\n'
        "from __future__ import annotations\n\n"
        "from adminsite.settings import *  # noqa: F403\n\n"
        "STORAGES = {**STORAGES, 'staticfiles': {'BACKEND': "  # noqa: F405
        "'django.contrib.staticfiles.storage.StaticFilesStorage'}}\n"
    )
    env = production_env(
        DJANGO_SETTINGS_MODULE="metrics_settings",
        PYTHONPATH=f"{tmp_path}{os.pathsep}{ROOT}",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        CACHE_URL=f"filecache://{tmp_path / 'cache'}",  # shared by the workers, as Redis
        AUTH0_DOMAIN=http_tenant_url(http_tenant),
        AUTH0_CLIENT_ID="org-desk-sandbox",
        AUTH0_CLIENT_SECRET="sandbox-secret",
        ALLOWED_HOSTS="127.0.0.1",
        SSO_USER_HEADER="X-Forwarded-Email",
        SSO_TRUSTED_PROXIES="127.0.0.1",
        SECURE_SSL_REDIRECT="false",
        SESSION_COOKIE_SECURE="false",
        CSRF_COOKIE_SECURE="false",
        METRICS_ALLOWED_IPS="127.0.0.1",
        LOG_FORMAT="json",
        TMPDIR=str(tmp_path),
    )
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=120,
    )
    port = _free_port()
    log = tmp_path / "gunicorn.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "adminsite.wsgi"],
            cwd=ROOT,
            env={
                **env,
                "GUNICORN_BIND": f"127.0.0.1:{port}",
                "GUNICORN_WORKERS": "2",
                "GUNICORN_THREADS": "4",
            },
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                # /readyz: the test counts the /healthz requests it makes itself.
                requests.get(base + "/readyz", timeout=5)
                break
            except (requests.ConnectionError, requests.Timeout):
                assert server.poll() is None, log.read_text()
                time.sleep(0.1)
        else:
            pytest.fail("gunicorn did not start within 30 seconds")
        yield base, tmp_path, server, log
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)


def http_tenant_url(tenant) -> str:
    from django.conf import settings

    return str(settings.AUTH0_BASE_URL)  # http_tenant pointed Org Desk at the HTTP sandbox


def test_metrics_add_up_across_workers(gunicorn, http_tenant) -> None:
    base, tmp, server, log = gunicorn
    acme = org_id("acme")  # through the HTTP sandbox, like the workers
    folders = list(tmp.glob("orgdesk-metrics-*"))
    assert len(folders) == 1, "gunicorn.conf.py made a metrics folder of its own under TMPDIR"
    folder = folders[0]

    def health(_: int) -> int:
        return requests.get(
            base + "/healthz", headers={"Connection": "close"}, timeout=10
        ).status_code

    def page(_: int) -> int:
        url = f"{base}/orgs/{acme}/"
        headers = {**ALICE, "Connection": "close"}
        return requests.get(url, headers=headers, timeout=20).status_code

    # The first sign-in creates alice's account: once, before the requests in parallel.
    assert page(0) == 200
    healthz, pages = 0, 1
    with ThreadPoolExecutor(8) as pool:
        # Until both workers have answered requests, pages among them (each writes its own
        # files; a worker that served only /healthz has no counter file, and the stopped
        # worker's counts are checked below).
        for _ in range(20):
            assert set(pool.map(health, range(16))) == {200}
            healthz += 16
            assert set(pool.map(page, range(4))) == {200}
            pages += 4
            if len(pids(folder, "histogram")) >= 2 and len(pids(folder, "counter")) >= 2:
                break
    workers = pids(folder, "histogram")
    assert len(workers) == 2, "both workers served requests"
    assert pids(folder, "counter") == workers, "both workers served pages"

    metrics = scrape(base)
    route = "orgdesk_request_duration_seconds_count"
    assert (
        metrics[(route, frozenset({"route": "healthz", "method": "GET", "status": "2xx"}.items()))]
        == healthz
    )
    assert (
        metrics[
            (route, frozenset({"route": "orgs:detail", "method": "GET", "status": "2xx"}.items()))
        ]
        == pages
    )
    calls = (
        "orgdesk_upstream_calls_total",
        frozenset({"group": "organizations", "status": "200"}.items()),
    )
    assert metrics[calls] == pages
    # One token for every worker: they share it through the cache.
    assert metrics[("orgdesk_token_fetches_total", frozenset({"outcome": "ok"}.items()))] == 1
    running = ("orgdesk_jobs_running", frozenset({"kind": "assign_roles"}.items()))
    assert metrics[running] == 0
    assert acme not in json.dumps([list(k[1]) for k in metrics])

    # A worker stops: gunicorn starts another; the counts it made still add up, its live
    # gauges are gone (child_exit marks it dead).
    gone = min(workers)
    assert pids(folder, "gauge_livesum") >= workers
    os.kill(gone, signal.SIGTERM)
    for _ in range(300):
        if gone not in pids(folder, "gauge_livesum") and len(pids(folder, "gauge_livesum")) == 2:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"the stopped worker's live gauges stayed: {sorted(folder.iterdir())}")
    assert gone in pids(folder, "counter") and gone in pids(folder, "histogram")
    after = scrape(base)
    health_key = (route, frozenset({"route": "healthz", "method": "GET", "status": "2xx"}.items()))
    assert after[health_key] == healthz
    assert after[calls] == pages

    server.send_signal(signal.SIGTERM)
    server.wait(timeout=30)
    assert not folder.exists(), "gunicorn.conf.py deletes its own metrics folder on exit"
    output = log.read_text()
    assert output.count("Booting worker") == 3, output
    logged = [json.loads(line) for line in output.splitlines() if '"orgdesk.request"' in line]
    assert sum(line["route"] == "healthz" for line in logged) == healthz
    detail = [line for line in logged if line["route"] == "orgs:detail"]
    assert len(detail) == pages
    assert {(line["user"], line["upstream_calls"]) for line in detail} == {("alice@example.com", 1)}
    assert "sandbox-secret" not in output


SETTINGS_READ = (
    "import django, logging; django.setup(); from django.conf import settings as s; "
    "print(s.LOG_FORMAT, s.METRICS_ALLOWED_IPS, bool(s.METRICS_TOKEN), s.MIDDLEWARE[0], "
    "type(logging.getLogger().handlers[0].formatter).__name__)"
)


def test_start_up_reads_log_format_and_metrics_settings() -> None:
    result = run_python(
        SETTINGS_READ,
        production_env(
            LOG_FORMAT="json",
            METRICS_ALLOWED_IPS="10.0.5.0/24,10.0.6.1",
            METRICS_TOKEN="a-long-enough-metrics-token",
        ),
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "json",
        "['10.0.5.0/24',",
        "'10.0.6.1']",
        "True",
        "adminsite.afteranswer.AfterAnswerMiddleware",
        "JsonFormatter",
    ]
    text = run_python(SETTINGS_READ, production_env())
    assert text.stdout.split()[:2] == ["text", "[]"] and text.stdout.split()[-1] == "Formatter"
    for extra, message in (
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT='xml'"),
        ({"METRICS_ALLOWED_IPS": "10.0.5.x"}, "METRICS_ALLOWED_IPS: '10.0.5.x'"),
        ({"METRICS_TOKEN": "short"}, "METRICS_TOKEN is shorter"),
    ):
        refused = run_python(SETTINGS_READ, production_env(**extra))
        assert refused.returncode != 0 and message in refused.stderr, refused.stderr
