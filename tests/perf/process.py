"""`make bench-process`: is an Org Desk process lean? (issue #14, item 6)

Production's shape on loopback (tests/deploy/stack.py): a throwaway PostgreSQL, a Redis, the
sandbox tenant served over HTTP in its own process (1,200 organizations, 1,200 members in
big-co, no latency), and gunicorn with production's gunicorn.conf.py and DEBUG off, but with
1 worker × 4 threads so that one worker takes every request. It prints:

- start-up: seconds from spawning gunicorn to the first 200 from /healthz (target < 3 s);
- 10,000 requests over keep-alive connections (4 clients, one per worker thread), signed in by
  the SSO proxy's headers, in a realistic mix: organization list, organization page, members
  part, connections part, search, audit log and /healthz, across many organizations and
  search terms; requests per second;
- the worker's resident memory (VmRSS, /proc/<pid>/status; the worker is the gunicorn master's
  child) after 1,000 requests (warm-up) and every 1,000 after.

PASS when /healthz answered within 3 s, the worker is under 150 MB after 10,000 requests, and it
grew by less than 10 MB from 2,000 to 10,000 requests (no growth after warm-up); exit status 1
otherwise. Every request must answer 200, and the worker must be the same process throughout.

    .venv/bin/python -m tests.perf.process      # or: make bench-process [PROCESS_REQUESTS=10000]
"""

from __future__ import annotations

import itertools
import os
import sys
import threading
import time
from collections import Counter

import requests

from tests.deploy.stack import Person, Stack, missing_binaries, rss_mb

REQUESTS = int(os.environ.get("PROCESS_REQUESTS", "10000"))
CLIENTS = 4
SAMPLE_EVERY = 1000
STARTUP_TARGET_S = 3.0
RSS_TARGET_MB = 150.0
GROWTH_TARGET_MB = 10.0
SEARCHES = ("co", "big", "acme", "inc", "org", "group", "labs", "zeta", "a", "ltd")


def mix(orgs: list[str], big: str) -> list[tuple[str, bool]]:
    """One round of the mix: (path, htmx) for every page kind, over many organizations."""
    paths: list[tuple[str, bool]] = []
    for n, org in enumerate(orgs):
        paths += [
            ("/orgs/", False),
            (f"/orgs/{org}/", False),
            (f"/orgs/{org}/members/", True),
            (f"/orgs/{org}/connections/", True),
            (f"/orgs/search/?q={SEARCHES[n % len(SEARCHES)]}", False),
            ("/audit/", False),
            ("/healthz", False),
        ]
        if n % 5 == 0:  # the organization with 1,200 members, its first page of 50
            paths.append((f"/orgs/{big}/members/", True))
    return paths


def main() -> int:
    if missing := missing_binaries():
        print(f"make bench-process needs Debian's {' and '.join(missing)}", file=sys.stderr)
        return 2
    with Stack(organizations=1200, members=1200) as stack:
        sandbox = stack.sandbox()
        big = sandbox.get("/organizations/name/big-co")["id"]
        orgs = [o["id"] for o in sandbox.get("/organizations", per_page=100)]

        spawned = time.monotonic()
        app = stack.instance(workers=1, threads=CLIENTS, wait=False)
        startup = None
        while time.monotonic() - spawned < 60:
            try:
                if requests.get(app.base + "/healthz", timeout=1).status_code == 200:
                    startup = time.monotonic() - spawned
                    break
            except requests.RequestException:
                pass
            time.sleep(0.01)
        if startup is None:
            print("gunicorn did not answer /healthz within 60 s", file=sys.stderr)
            return 1
        (worker,) = app.worker_pids()
        print(
            f"Org Desk process benchmark: gunicorn 1 worker × {CLIENTS} threads, "
            f"{REQUESTS:,} requests, Postgres + Redis + sandbox over HTTP"
        )
        print(f"  start-up: first 200 from /healthz {startup:.2f} s after spawning gunicorn")
        print(f"  worker pid {worker}: {rss_mb(worker):.1f} MB resident before any page")

        paths = itertools.cycle(mix(orgs, big))
        lock = threading.Lock()
        done = 0
        statuses: Counter[int] = Counter()
        samples: dict[int, float] = {}
        failures: list[str] = []

        def client(n: int) -> None:
            nonlocal done
            person = Person(f"process{n}@example.com")  # its own keep-alive connection
            while True:
                with lock:
                    if done >= REQUESTS:
                        return
                    path, htmx = next(paths)
                try:
                    status = person.get(app, path, htmx=htmx).status_code
                except requests.RequestException as exc:
                    status = 0
                    failures.append(f"{path}: {type(exc).__name__}")
                with lock:
                    if done >= REQUESTS:
                        return
                    done += 1
                    statuses[status] += 1
                    if status != 200 and len(failures) < 10:
                        failures.append(f"{path}: {status}")
                    if done % SAMPLE_EVERY == 0:
                        samples[done] = rss_mb(worker)

        started = time.monotonic()
        clients = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
        for c in clients:
            c.start()
        for c in clients:
            c.join()
        elapsed = time.monotonic() - started
        same_worker = app.worker_pids() == [worker]

        print(f"  {done:,} requests in {elapsed:.1f} s: {done / elapsed:.0f} requests/s")
        print(f"  statuses {dict(statuses)}")
        for failure in failures[:10]:
            print(f"    {failure}")
        print("  worker resident memory (VmRSS):")
        for at, mb in sorted(samples.items()):
            print(f"    after {at:>6,} requests  {mb:6.1f} MB")

    last = samples.get(REQUESTS)
    first = samples.get(min(2 * SAMPLE_EVERY, REQUESTS))
    checks = [
        (f"/healthz within {STARTUP_TARGET_S:g} s of start", startup < STARTUP_TARGET_S),
        (
            f"worker under {RSS_TARGET_MB:g} MB after {REQUESTS:,} requests "
            f"({last if last is not None else float('nan'):.1f} MB)",
            last is not None and last < RSS_TARGET_MB,
        ),
        (
            f"growth from {min(2 * SAMPLE_EVERY, REQUESTS):,} to {REQUESTS:,} requests under "
            f"{GROWTH_TARGET_MB:g} MB "
            f"({(last or 0) - (first or 0):+.1f} MB)",
            last is not None and first is not None and last - first < GROWTH_TARGET_MB,
        ),
        ("every request answered 200", statuses == {200: REQUESTS}),
        ("one worker process throughout (no restart)", same_worker),
    ]
    for label, ok in checks:
        print(f"  {'PASS' if ok else 'FAIL'}  {label}")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
