"""A production-shaped Org Desk on loopback: one throwaway PostgreSQL, one Redis, the sandbox
tenant over HTTP in its own process, and any number of gunicorn instances sharing them.

Used by the two-instance tests (tests/deploy/test_two_instances.py, test_two_instance_jobs.py)
and the process benchmark (tests/perf/process.py). Every process it starts is stopped, and every
folder deleted, by `Stack.stop()` (a context manager does it too).

    with Stack() as stack:
        a = stack.instance(workers=2)
        b = stack.instance(workers=2)
        jobs = stack.worker()  # a `manage.py jobs_worker` on the same database and Redis
        requests.get(a.base + "/healthz")
"""

from __future__ import annotations

import glob
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import requests

from tests import pgcluster
from tests.perf.load import Sandbox, free_port, wait_until_up

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
SSO_EMAIL, SSO_GROUPS = "X-Forwarded-Email", "X-Forwarded-Groups"
OPERATORS = "orgdesk-operators"


def missing_binaries() -> list[str]:
    """The Debian packages the stack needs that are not installed (make test installs them)."""
    missing = []
    if not glob.glob("/usr/lib/postgresql/*/bin/initdb") and not shutil.which("initdb"):
        missing.append("postgresql")
    if not shutil.which("redis-server"):
        missing.append("redis-server")
    return missing


@dataclass
class Instance:
    """One gunicorn master (its own port) and its workers."""

    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def worker_pids(self) -> list[int]:
        """The master's children: gunicorn's workers."""
        return children_of(self.process.pid)


@dataclass
class Worker:
    """One `manage.py jobs_worker` process (bulk jobs, adminsite/jobs) of the stack."""

    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None


def children_of(parent: int) -> list[int]:
    """Processes whose parent is `parent` (from /proc/<pid>/stat)."""
    found = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            text = Path(stat).read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after ")"
        fields = text.rsplit(")", 1)[1].split()
        if int(fields[1]) == parent:
            found.append(int(stat.split("/")[2]))
    return sorted(found)


def rss_mb(pid: int) -> float:
    """Resident memory of a process (VmRSS), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


@dataclass
class Stack:
    """Postgres + Redis + the sandbox over HTTP; `instance()` adds a gunicorn on a free port."""

    organizations: int = 100
    members: int = 60
    latency: float = 0.0
    folder: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="orgdesk-stack-")))
    env: dict[str, str] = field(default_factory=dict)
    instances: list[Instance] = field(default_factory=list)
    workers: list[Worker] = field(default_factory=list)
    _processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    _cluster: pgcluster.Cluster | None = None
    sandbox_url: str = ""
    redis_port: int = 0

    def __enter__(self) -> Stack:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- start-up ---------------------------------------------------------------------------

    def start(self) -> None:
        self._cluster = pgcluster.start()
        self.redis_port = free_port()
        self._processes.append(
            subprocess.Popen(
                ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1"]
                + ["--save", "", "--appendonly", "no", "--dir", str(self.folder)],
                stdout=subprocess.DEVNULL,
            )
        )
        sandbox_port = free_port()
        self.sandbox_url = f"http://127.0.0.1:{sandbox_port}"
        self.env = self.production_env()
        self._processes.append(
            subprocess.Popen(
                [PYTHON, "manage.py", "sandbox_api", "--port", str(sandbox_port)]
                + ["--organizations", str(self.organizations), "--members", str(self.members)]
                + ["--latency", str(self.latency)],
                cwd=ROOT,
                env=self.env,
                stdout=subprocess.DEVNULL,
            )
        )
        # Once for every instance: they share the database and the collected static files.
        for command in (
            ["migrate", "--noinput", "-v", "0"],
            ["collectstatic", "--noinput", "-v", "0"],
        ):
            subprocess.run([PYTHON, "manage.py", *command], cwd=ROOT, env=self.env, check=True)
        wait_until_up(self.sandbox_url + "/__sandbox/config")
        self._wait_for_redis()

    def production_env(self) -> dict[str, str]:
        """DEBUG off, Postgres and Redis, Auth0 = the sandbox over HTTP, SSO from 127.0.0.1;
        only what plain http on loopback needs is relaxed (the proxy does TLS)."""
        assert self._cluster is not None
        keep = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("DJANGO_", "SSO_", "AUTH0_", "SECURE_", "SESSION_", "CSRF_"))
            and not k.startswith(("GUNICORN_", "WEB_CONCURRENCY", "METRICS_", "LOG_"))
            and k not in ("DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "CACHE_URL")
        }
        return {
            **keep,
            "DJANGO_SETTINGS_MODULE": "adminsite.settings",
            "DEBUG": "false",
            "SECRET_KEY": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "127.0.0.1",
            "AUTH0_DOMAIN": self.sandbox_url,
            "AUTH0_SANDBOX": "false",  # the sandbox over HTTP stands in for a real tenant
            "AUTH0_CLIENT_ID": "org-desk-sandbox",
            "AUTH0_CLIENT_SECRET": "sandbox-secret",
            "DATABASE_URL": self._cluster.url,
            "CACHE_URL": f"redis://127.0.0.1:{self.redis_port}/0",
            "SSO_USER_HEADER": SSO_EMAIL,
            "SSO_GROUPS_HEADER": SSO_GROUPS,
            "SSO_OPERATOR_GROUPS": OPERATORS,
            "SSO_TRUSTED_PROXIES": "127.0.0.1",
            "SESSION_COOKIE_SECURE": "false",
            "CSRF_COOKIE_SECURE": "false",
            "SECURE_HSTS_SECONDS": "0",
            "SECURE_SSL_REDIRECT": "false",
            "LOG_LEVEL": "WARNING",
        }

    def _wait_for_redis(self, seconds: float = 10) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.redis("PING").strip() == "PONG":
                return
            time.sleep(0.1)
        raise RuntimeError("redis-server did not come up")

    def redis(self, *command: str) -> str:
        """One redis-cli command against the shared Redis; its output."""
        result = subprocess.run(
            ["redis-cli", "-p", str(self.redis_port), *command],
            capture_output=True,
            text=True,
            check=False,
        )
        return result.stdout

    def instance(
        self,
        *,
        workers: int = 2,
        threads: int = 4,
        wait: bool = True,
        access_log: bool = False,
        **env: str,
    ) -> Instance:
        """A gunicorn with production's gunicorn.conf.py on a free port."""
        port = free_port()
        log = self.folder / f"gunicorn-{port}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [PYTHON, "-m", "gunicorn", "-c", "gunicorn.conf.py", "adminsite.wsgi"]
                + (["--access-logfile", "-"] if access_log else []),
                cwd=ROOT,
                env={
                    **self.env,
                    "GUNICORN_BIND": f"127.0.0.1:{port}",
                    "GUNICORN_WORKERS": str(workers),
                    "GUNICORN_THREADS": str(threads),
                    "GUNICORN_LOG_LEVEL": "warning",
                    **env,
                },
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        instance = Instance(process=process, port=port, log=log)
        self.instances.append(instance)
        if wait:
            wait_until_up(instance.base + "/healthz", seconds=60)
        return instance

    def worker(self, *, interval: float = 0.2, **env: str) -> Worker:
        """A jobs worker (`manage.py jobs_worker`, django-tasks-db's db_worker plus the sweep)
        with the stack's environment: the shared PostgreSQL (its task queue) and Redis (the
        jobs' pacing). Its output goes to a log in the stack's folder; `stop()` ends it first,
        with SIGTERM (the job in hand is handed back to the queue between items)."""
        log = self.folder / f"jobs-worker-{len(self.workers) + 1}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [PYTHON, "manage.py", "jobs_worker", "--interval", str(interval)],
                cwd=ROOT,
                env={**self.env, **env},
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        worker = Worker(process=process, log=log)
        self.workers.append(worker)
        return worker

    def manage(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """`manage.py <args>` with the stack's environment; its output captured."""
        return subprocess.run(
            [PYTHON, "manage.py", *args],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            check=check,
            timeout=120,
        )

    # --- the sandbox ------------------------------------------------------------------------

    def sandbox(self) -> Sandbox:
        """A Management API client of the sandbox (its own token: clear the log after)."""
        return Sandbox(self.sandbox_url)

    def sandbox_requests(self) -> list[dict[str, Any]]:
        """Every request the sandbox received since the last clear_sandbox_log()."""
        response = requests.get(self.sandbox_url + "/__sandbox/requests", timeout=10)
        response.raise_for_status()
        return list(response.json())

    def clear_sandbox_log(self) -> None:
        requests.delete(self.sandbox_url + "/__sandbox/requests", timeout=10).raise_for_status()

    def configure_sandbox(self, **config: Any) -> dict[str, Any]:
        response = requests.post(self.sandbox_url + "/__sandbox/config", json=config, timeout=10)
        response.raise_for_status()
        return dict(response.json())

    # --- the database -----------------------------------------------------------------------

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        """Rows of a query on the shared database (psycopg, autocommit)."""
        import psycopg

        assert self._cluster is not None
        with psycopg.connect(self._cluster.url, autocommit=True) as connection:
            return list(connection.execute(query, params).fetchall())

    # --- shut-down --------------------------------------------------------------------------

    def stop(self) -> None:
        # The jobs workers first, while the database and Redis they use are still up.
        for w in self.workers:
            if w.process.poll() is None:
                w.process.send_signal(signal.SIGTERM)
        for w in self.workers:
            try:
                w.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                w.process.kill()
                w.process.wait(timeout=5)
        self.workers.clear()
        processes = [i.process for i in self.instances] + self._processes
        for p in processes:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in processes:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)
        self.instances.clear()
        self._processes.clear()
        if self._cluster is not None:
            pgcluster.stop(self._cluster)
            self._cluster = None
        shutil.rmtree(self.folder, ignore_errors=True)


CSRF = re.compile(r'"X-CSRFToken": "([^"]+)"')


class Person:
    """Someone signed in by the SSO proxy's headers (the proxy being this process), with a
    cookie jar of their own; `on(instance)` aims the next requests at an instance."""

    def __init__(self, email: str, operator: bool = True) -> None:
        self.http = requests.Session()
        self.http.headers[SSO_EMAIL] = email
        if operator:
            self.http.headers[SSO_GROUPS] = OPERATORS
        self.csrf = ""

    def get(self, instance: Instance, path: str, htmx: bool = False) -> requests.Response:
        headers = {"HX-Request": "true"} if htmx else {}
        response = self.http.get(instance.base + path, headers=headers, timeout=30)
        if match := CSRF.search(response.text):
            self.csrf = match.group(1)
        return response

    def post(
        self, instance: Instance, path: str, data: dict[str, str] | None = None, htmx: bool = False
    ) -> requests.Response:
        headers = {"X-CSRFToken": self.csrf, "Referer": instance.base + "/"}
        if htmx:
            headers["HX-Request"] = "true"
        return self.http.post(instance.base + path, data=data or {}, headers=headers, timeout=30)
