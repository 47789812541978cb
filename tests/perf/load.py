"""Bounded load run (`make load`): 50 signed-in people on gunicorn with 2 workers for 60 seconds.

Loopback only, and it stops by itself. It starts the sandbox tenant over HTTP
(`manage.py sandbox_api`), migrates a throwaway SQLite database, starts gunicorn with Org Desk
pointed at the sandbox like at Auth0 and signed in by SSO headers (as behind the company's proxy),
then runs simulated support staff who mix page views with changes: each assigns and removes roles
on members of their own, and some toggle a connection of their own between domain-level and not.

At the end it prints requests served, errors, median and 95th-percentile latency, and checks
that every change the simulated staff saw succeed appears exactly once in the audit log (no more
entries, none pending), and that the sandbox's final state is exactly what those changes imply.
Exit status 0 only when there were no errors and nothing was lost or doubled.

    .venv/bin/python tests/perf/load.py [--users 50] [--seconds 60] [--workers 2] [--latency 0.02]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
BIG_ORG = "big-co"
CSRF = re.compile(r'"X-CSRFToken": "([^"]+)"')


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not come up within {seconds:g} s")


# --- The simulated support staff ----------------------------------------------------------


@dataclass
class Change:
    """One change a person asked for, and whether Org Desk said it succeeded."""

    user: str
    action: str  # assign_roles, remove_role, domain_level
    target: str  # member user id or connection id
    value: str  # role id, or "true"/"false"
    ok: bool
    at: float


@dataclass
class Results:
    lock: threading.Lock = field(default_factory=threading.Lock)
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    changes: list[Change] = field(default_factory=list)

    def request(self, seconds: float, status: int) -> None:
        with self.lock:
            self.latencies.append(seconds)
            self.statuses[status] += 1


class Person(threading.Thread):
    def __init__(
        self,
        n: int,
        base: str,
        org_id: str,
        members: list[str],
        connection: str | None,
        roles: list[str],
        deadline: float,
        results: Results,
    ) -> None:
        super().__init__(daemon=True)
        self.email = f"agent{n:02d}@load.example"
        self.base, self.org_id, self.members = base, org_id, members
        self.connection, self.roles, self.deadline = connection, roles, deadline
        self.results = results
        self.rng = random.Random(n)
        self.http = requests.Session()
        self.http.headers.update({"X-Forwarded-Email": self.email, "X-Forwarded-Groups": "support"})
        self.assigned: dict[str, str] = {}  # member -> the role this person gave them
        self.domain_level: bool | None = None

    def call(self, method: str, path: str, data: dict | None = None, htmx: bool = False) -> str:
        headers = {"HX-Request": "true"} if htmx else {}
        if method == "POST":
            headers["X-CSRFToken"] = self.csrf
        started = time.perf_counter()
        try:
            r = self.http.request(method, self.base + path, data=data, headers=headers, timeout=30)
        except requests.RequestException as exc:
            with self.results.lock:
                self.results.errors.append(f"{method} {path}: {type(exc).__name__}")
            return ""
        self.results.request(time.perf_counter() - started, r.status_code)
        body = r.text
        if r.status_code != 200 or "message-error" in body or "Traceback" in body:
            with self.results.lock:
                self.results.errors.append(f"{method} {path}: {r.status_code} {body[:300]!r}")
        return body

    def run(self) -> None:
        body = self.call("GET", "/orgs/")
        match = CSRF.search(body)
        if not match:
            with self.results.lock:
                self.results.errors.append(f"{self.email}: no CSRF token on the first page")
            return
        self.csrf = match.group(1)
        while time.monotonic() < self.deadline:
            kind = self.rng.random()
            if kind < 0.45:
                self.view()
            elif kind < 0.85 or self.connection is None:
                self.change_roles()
            else:
                self.toggle()

    def view(self) -> None:
        path = self.rng.choice(
            [
                "/orgs/",
                f"/orgs/{self.org_id}/",
                f"/orgs/{self.org_id}/connections/",
                f"/orgs/{self.org_id}/members/",
            ]
        )
        self.call("GET", path, htmx="/connections/" in path or "/members/" in path)

    def change_roles(self) -> None:
        member = self.rng.choice(self.members)
        if member in self.assigned:
            role = self.assigned.pop(member)
            body = self.call(
                "POST",
                f"/orgs/{self.org_id}/members/roles/remove/",
                {"user_id": member, "role": role},
                htmx=True,
            )
            self.record("remove_role", member, role, "Removed the role" in body)
        else:
            role = self.rng.choice(self.roles)
            body = self.call(
                "POST",
                f"/orgs/{self.org_id}/members/roles/assign/",
                {"user_id": member, "roles": role},
                htmx=True,
            )
            ok = "message-success" in body and "Assigned" in body
            if ok:
                self.assigned[member] = role
            self.record("assign_roles", member, role, ok)

    def toggle(self) -> None:
        assert self.connection is not None
        wanted = not self.domain_level
        body = self.call(
            "POST",
            f"/orgs/{self.org_id}/connections/{self.connection}/domain-level/",
            {"is_domain_connection": "true" if wanted else "false"},
            htmx=True,
        )
        ok = "message-success" in body
        if ok:
            self.domain_level = wanted
        self.record("domain_level", self.connection, "true" if wanted else "false", ok)

    def record(self, action: str, target: str, value: str, ok: bool) -> None:
        with self.results.lock:
            self.results.changes.append(
                Change(self.email, action, target, value, ok, time.monotonic())
            )


# --- The run ------------------------------------------------------------------------------


class Sandbox:
    """Talks to the sandbox like a Management API client would (for set-up and final state)."""

    def __init__(self, url: str) -> None:
        self.url = url
        token = requests.post(
            url + "/oauth/token",
            json={
                "grant_type": "client_credentials",
                "client_id": "org-desk-sandbox",
                "client_secret": "sandbox-secret",
                "audience": url + "/api/v2/",
            },
            timeout=10,
        ).json()["access_token"]
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {token}"

    def get(self, path: str, **params: str | int) -> Any:  # the Management API's JSON
        r = self.http.get(self.url + "/api/v2" + path, params=params, timeout=10)
        r.raise_for_status()
        return r.json()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4, help="gunicorn threads per worker")
    parser.add_argument("--latency", type=float, default=0.02, help="sandbox seconds per call")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="orgdesk-load-"))
    sandbox_port, app_port = free_port(), free_port()
    sandbox_url, base = f"http://127.0.0.1:{sandbox_port}", f"http://127.0.0.1:{app_port}"
    env = {
        **os.environ,
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "127.0.0.1",
        "AUTH0_DOMAIN": sandbox_url,
        "AUTH0_SANDBOX": "false",  # the sandbox over HTTP stands in for a real tenant
        "AUTH0_CLIENT_ID": "org-desk-sandbox",
        "AUTH0_CLIENT_SECRET": "sandbox-secret",
        "DATABASE_URL": f"sqlite:///{tmp / 'load.sqlite3'}",
        "CACHE_URL": os.environ.get("LOAD_CACHE_URL", f"filecache://{tmp / 'cache'}"),
        "SSO_USER_HEADER": "X-Forwarded-Email",
        "SSO_GROUPS_HEADER": "X-Forwarded-Groups",
        "SSO_OPERATOR_GROUPS": "support",
        "SSO_TRUSTED_PROXIES": "127.0.0.1/32",
        "SESSION_COOKIE_SECURE": "false",
        "CSRF_COOKIE_SECURE": "false",
        "SECURE_HSTS_SECONDS": "0",
        "SECURE_SSL_REDIRECT": "false",  # plain http on loopback; the proxy does TLS
        "LOG_LEVEL": "WARNING",
    }
    processes: list[subprocess.Popen] = []
    try:
        processes.append(
            subprocess.Popen(
                [PYTHON, "manage.py", "sandbox_api", "--port", str(sandbox_port)]
                + ["--latency", str(args.latency)],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
            )
        )
        for command in (
            ["migrate", "--noinput", "-v", "0"],
            ["collectstatic", "--noinput", "-v", "0"],
        ):
            subprocess.run([PYTHON, "manage.py", *command], cwd=ROOT, env=env, check=True)
        processes.append(
            subprocess.Popen(
                # Production's configuration (one log line a request: Org Desk's own).
                [PYTHON, "-m", "gunicorn", "-c", "gunicorn.conf.py", "adminsite.wsgi"],
                cwd=ROOT,
                env={
                    **env,
                    "GUNICORN_BIND": f"127.0.0.1:{app_port}",
                    "GUNICORN_WORKERS": str(args.workers),
                    "GUNICORN_THREADS": str(args.threads),
                    "GUNICORN_LOG_LEVEL": "warning",
                },
            )
        )
        wait_until_up(sandbox_url + "/__sandbox/config")
        wait_until_up(base + "/healthz")
        return run(args, base, Sandbox(sandbox_url), env)
    finally:
        for p in processes:
            p.send_signal(signal.SIGTERM)
        for p in processes:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


def run(args: argparse.Namespace, base: str, sandbox: Sandbox, env: dict[str, str]) -> int:
    org = sandbox.get(f"/organizations/name/{BIG_ORG}")
    org_id = org["id"]
    page = sandbox.get(f"/organizations/{org_id}/members", take=100, fields="user_id")
    members = [m["user_id"] for m in page["members"]]
    enabled = sandbox.get(f"/organizations/{org_id}/enabled_connections")
    connections = [c["connection_id"] for c in enabled]
    roles = [r["id"] for r in sandbox.get("/roles", per_page=100)]
    per_person = max(1, len(members) // args.users)

    def roles_of(member: str) -> set[str]:
        path = f"/organizations/{org_id}/members/{quote(member, safe='')}/roles"
        return {r["id"] for r in sandbox.get(path, per_page=100)}

    def domain_level(connection: str) -> bool:
        return bool(sandbox.get(f"/connections/{connection}")["is_domain_connection"])

    before = {m: roles_of(m) for m in members[: per_person * args.users]}
    results = Results()
    deadline = time.monotonic() + args.seconds
    people = []
    for n in range(args.users):
        mine = members[n * per_person : (n + 1) * per_person]
        available = [r for r in roles if not any(r in before[m] for m in mine)]
        person = Person(
            n,
            base,
            org_id,
            mine,
            connections[n] if n < len(connections) else None,
            available or roles,
            deadline,
            results,
        )
        if person.connection:
            person.domain_level = domain_level(person.connection)
        people.append(person)
    started = time.monotonic()
    for p in people:
        p.start()
    for p in people:
        p.join(timeout=args.seconds + 60)
    elapsed = time.monotonic() - started

    # --- Report ---
    served = sum(results.statuses.values())
    lat = sorted(results.latencies)
    p95 = lat[int(0.95 * (len(lat) - 1))] if lat else 0.0
    done = [c for c in results.changes if c.ok]
    print(
        f"Load run: {args.users} people, {args.seconds:g} s, "
        f"gunicorn {args.workers} workers × {args.threads} threads"
    )
    print(f"  requests served      {served} ({served / elapsed:.0f}/s)")
    print(f"  errors               {len(results.errors)}")
    for e in results.errors[:10]:
        print(f"    {e}")
    print(f"  latency median       {statistics.median(lat) * 1000 if lat else 0:.0f} ms")
    print(f"  latency p95          {p95 * 1000:.0f} ms")
    print(f"  changes              {len(results.changes)} asked, {len(done)} succeeded")
    problems = check(results, env, org_id, before, people, roles_of, domain_level)
    for problem in problems[:20]:
        print(f"  LOST OR DOUBLED: {problem}")
    print(f"  audit and final state {'OK' if not problems else f'{len(problems)} problems'}")
    return 0 if not results.errors and not problems and done else 1


def check(results, env, org_id, before, people, roles_of, domain_level) -> list[str]:
    """Every successful change is in the audit log exactly once, and nothing else is."""
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "SECRET_KEY", "DEBUG", "AUTH0_DOMAIN")})
    os.environ.update({k: env[k] for k in ("AUTH0_CLIENT_ID", "AUTH0_CLIENT_SECRET")})
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "adminsite.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from adminsite.audit.models import AuditEntry

    problems: list[str] = []
    entries = list(AuditEntry.objects.filter(org_id=org_id).order_by("created_at", "id"))
    if any(e.outcome == "pending" for e in entries):
        problems.append("pending audit entries remain")
    seen: Counter[tuple[str, str, str, str]] = Counter()
    for e in entries:
        if e.outcome != "success":
            continue
        if e.action == "domain_level":
            value = json.dumps(bool((e.requested or {}).get("is_domain_connection")))
            seen[(e.username, e.action, e.connection_id, value)] += 1
        else:
            for role in e.roles:
                seen[(e.username, e.action, e.member_id, role["id"])] += 1
    expected: Counter[tuple[str, str, str, str]] = Counter()
    for c in results.changes:
        if c.ok:
            value = json.dumps(c.value == "true") if c.action == "domain_level" else c.value
            expected[(c.user, c.action, c.target, value)] += 1
    for key in expected.keys() | seen.keys():
        if expected[key] != seen[key]:
            problems.append(f"{key}: succeeded {expected[key]}×, audited {seen[key]}×")
    asked = Counter((c.user, c.action) for c in results.changes)
    audited = Counter((e.username, e.action) for e in entries)
    for pair in asked.keys() | audited.keys():
        if asked[pair] != audited[pair]:
            problems.append(f"{pair}: asked {asked[pair]}×, audit entries {audited[pair]}")

    for person in people:  # the sandbox ends exactly where the successful changes left it
        for member in person.members:
            want = set(before[member])
            if member in person.assigned:
                want.add(person.assigned[member])
            if roles_of(member) != want:
                problems.append(f"{member}: roles differ from what the changes imply")
        if person.connection and domain_level(person.connection) != person.domain_level:
            problems.append(f"{person.connection}: domain-level differs from the last change")
    return problems


if __name__ == "__main__":
    sys.exit(main())
