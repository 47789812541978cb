"""Several instances, one state (issue #14, item 2).

Two gunicorn instances on different ports (2 workers × 4 threads each, production's
gunicorn.conf.py, DEBUG off) share one PostgreSQL and one Redis, in front of the sandbox tenant
served over HTTP in its own process, like Auth0. Threads drive both instances at once, as the
load balancer would, and the sandbox's request log says what reached "Auth0":

- one Management API token for the lifetime, fetched once across both instances' workers;
- one rate-limit budget: once one instance has learnt the budget is spent, the other refuses
  without sending, so Auth0 answers no 429;
- a restore fired at both instances at once is sent to Auth0 once, and audited once;
- a person's session (and CSRF token) made on one instance works on the other.

Bulk jobs ("a job started on one instance cannot run twice on the other", with a jobs worker
beside each instance): tests/deploy/test_two_instance_jobs.py.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Any

import pytest
import requests

from tests.deploy.stack import Instance, Person, Stack, missing_binaries

MISSING = missing_binaries()
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        bool(MISSING),
        reason=f"needs Debian's {' and '.join(MISSING)} (`make test` installs them)",
    ),
]

THREADS_PER_INSTANCE = 8


class Deployment:
    def __init__(self, stack: Stack, a: Instance, b: Instance) -> None:
        self.stack, self.a, self.b = stack, a, b
        self.sandbox = sandbox = stack.sandbox()  # the test's own token, not in the log
        self.org = sandbox.get("/organizations/name/big-co")["id"]
        self.orgs = [o["id"] for o in sandbox.get("/organizations", per_page=50)]
        enabled = sandbox.get(f"/organizations/{self.org}/enabled_connections")
        self.connections = [c["connection_id"] for c in enabled]
        # Another organization's connection, for changes that leave big-co's alone.
        self.other_org, self.other_connection = next(
            (org, enabled[0]["connection_id"])
            for org in self.orgs
            if org != self.org
            and (enabled := sandbox.get(f"/organizations/{org}/enabled_connections"))
        )
        stack.clear_sandbox_log()
        self.earlier: list[dict[str, Any]] = []  # what the sandbox saw before the last clear

    def clear_log(self) -> None:
        self.earlier += self.stack.sandbox_requests()
        self.stack.clear_sandbox_log()

    def token_fetches(self) -> int:
        """Org Desk's token requests since the instances started (the test's own excluded)."""
        return len(calls(self.earlier + self.stack.sandbox_requests(), "POST", "/oauth/token"))


@pytest.fixture(scope="module")
def deployment() -> Iterator[Deployment]:
    with Stack(latency=0.02) as stack:
        a = stack.instance(workers=2, threads=4)
        b = stack.instance(workers=2, threads=4)
        yield Deployment(stack, a, b)


def together(work: Sequence[Callable[[], Any]]) -> list[Any]:
    """Run each callable in its own thread, all released at the same moment; their results."""
    barrier = threading.Barrier(len(work))
    results: list[Any] = [None] * len(work)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work[i]()
        except Exception as exc:  # reported by the assertions on results
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(work))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def calls(log: list[dict[str, Any]], method: str, pattern: str) -> list[dict[str, Any]]:
    return [e for e in log if e["method"] == method and re.fullmatch(pattern, e["raw_path"])]


def test_one_token_for_both_instances(deployment: Deployment) -> None:
    """Cold instances, 16 people at once on both, every page kind: one token fetch in all."""
    d = deployment
    org = d.org
    pages = [
        ("/orgs/", False),
        (f"/orgs/{org}/", False),
        (f"/orgs/{org}/connections/", True),
        (f"/orgs/{org}/members/", True),
        ("/orgs/search/?q=co", False),
        ("/audit/", False),
    ]

    def browse(n: int, instance: Instance) -> list[tuple[int, str, str]]:
        person = Person(f"viewer{n:02d}@example.com", operator=False)
        answers = []
        for round_ in range(3):
            mix = pages[n % len(pages) :] + pages[: n % len(pages)]
            for path, htmx in [*mix, (f"/orgs/{d.orgs[(n + round_) % 50]}/", False)]:
                r = person.get(instance, path, htmx=htmx)
                answers.append((r.status_code, path, "" if r.ok else r.text[:3000]))
        return answers

    work = [partial(browse, n, inst) for inst in (d.a, d.b) for n in range(THREADS_PER_INSTANCE)]
    results = together(work)
    statuses = Counter(answer[0] for r in results for answer in r)
    failed = [answer for r in results for answer in r if answer[0] != 200]
    assert statuses == {200: len(work) * 3 * (len(pages) + 1)}, failed[:3]

    log = d.stack.sandbox_requests()
    assert len(calls(log, "GET", r"/api/v2/.*")) > 100  # both instances really called Auth0
    print(f"two instances, {len(work)} people: {len(log)} calls to Auth0, 1 token fetch")
    assert d.token_fetches() == 1, f"{d.token_fetches()} token fetches across two instances"
    # every worker of both instances served: the one token was shared, not lucky
    assert len(d.a.worker_pids()) == len(d.b.worker_pids()) == 2


def test_a_restore_fired_at_both_instances_runs_once(deployment: Deployment) -> None:
    d, stack = deployment, deployment.stack
    connection = d.connections[0]
    olivia = Person("olivia@example.com")
    assert olivia.get(d.a, f"/orgs/{d.org}/").status_code == 200 and olivia.csrf
    # The confirm step on A, the removal on B: the stashed before-state is shared too.
    confirm = olivia.get(d.a, f"/orgs/{d.org}/connections/{connection}/remove/", htmx=True)
    assert confirm.status_code == 200 and "Remove" in confirm.text
    removed = olivia.post(d.b, f"/orgs/{d.org}/connections/{connection}/remove/", htmx=True)
    assert removed.status_code == 200 and "Removed the connection" in removed.text
    # Sealed by B's thread once the answer was sent: read as another connection would.
    deadline = time.monotonic() + 5
    while (
        not (
            sealed := stack.sql(
                "SELECT id FROM adminsite_auditentry WHERE action = 'remove_connection' "
                "AND connection_id = %s AND outcome = 'success'",
                connection,
            )
        )
        and time.monotonic() < deadline
    ):
        time.sleep(0.01)
    (removal,) = sealed
    pk = removal[0]

    operators = [Person(f"restorer{n:02d}@example.com") for n in range(2 * THREADS_PER_INSTANCE)]
    targets = [d.a, d.b] * THREADS_PER_INSTANCE
    for person, instance in zip(operators, targets, strict=True):
        assert person.get(instance, f"/audit/{pk}/").status_code == 200 and person.csrf
    d.clear_log()

    def restore(person: Person, instance: Instance) -> requests.Response:
        return person.post(instance, f"/audit/{pk}/restore/")

    answers = together([partial(restore, p, i) for p, i in zip(operators, targets, strict=True)])
    assert all(isinstance(r, requests.Response) for r in answers), answers
    # Each person lands back on the entry with what happened to their request.
    pages = [r.text for r in answers]
    assert all(r.status_code == 200 for r in answers), [r.status_code for r in answers]
    restored = [p for p in pages if "Restored the connection" in p]
    under_way = [p for p in pages if "already under way" in p]
    done = [p for p in pages if "already restored" in p]
    odd = [p for p in pages if p not in restored + under_way + done]
    assert len(restored) == 1 and len(under_way) + len(done) == len(answers) - 1, [
        re.findall(r'class="message[^"]*"[^>]*>(.*?)<', p, re.S) for p in odd
    ]
    print(f"restore: 1 restored, {len(under_way)} refused while it ran, {len(done)} after")

    posts = calls(
        stack.sandbox_requests(), "POST", rf"/api/v2/organizations/{d.org}/enabled_connections"
    )
    print(f"{len(answers)} restores at once on two instances: {len(posts)} reached Auth0")
    assert len(posts) == 1, f"Auth0 received {len(posts)} restores"
    rows = stack.sql("SELECT outcome FROM adminsite_auditentry WHERE restores_id = %s", pk)
    assert rows == [("success",)], rows


def test_a_session_made_on_one_instance_works_on_the_other(deployment: Deployment) -> None:
    d = deployment
    alice = Person("alice@example.com")
    first = alice.get(d.a, "/orgs/")
    assert first.status_code == 200 and "alice@example.com · operator" in first.text
    session, csrf_cookie = alice.http.cookies["sessionid"], alice.http.cookies["csrftoken"]
    token_from_a = alice.csrf

    page = alice.get(d.b, f"/orgs/{d.org}/")
    assert page.status_code == 200 and "alice@example.com · operator" in page.text
    assert "sessionid" not in page.cookies  # B knew the session: no new sign-in, no new key
    assert alice.http.cookies["sessionid"] == session
    assert alice.http.cookies["csrftoken"] == csrf_cookie

    # A change posted to B with the CSRF token of A's page, and back on A with B's.
    connection = d.other_connection
    sandbox = d.sandbox
    was = bool(sandbox.get(f"/connections/{connection}")["is_domain_connection"])
    path = f"/orgs/{d.other_org}/connections/{connection}/domain-level/"
    alice.csrf = token_from_a
    flipped = alice.post(d.b, path, {"is_domain_connection": str(not was).lower()}, htmx=True)
    assert flipped.status_code == 200 and "message-success" in flipped.text, flipped.text[:1000]
    assert sandbox.get(f"/connections/{connection}")["is_domain_connection"] is (not was)
    alice.get(d.b, f"/orgs/{d.org}/")
    back = alice.post(d.a, path, {"is_domain_connection": str(was).lower()}, htmx=True)
    assert back.status_code == 200 and "message-success" in back.text
    assert alice.http.cookies["sessionid"] == session

    # The control: CSRF is checked on B (a wrong token is refused), so the POST above passed
    # because B accepted A's token, not because nothing was checked.
    alice.csrf = "x" * 32
    forged = alice.post(d.b, path, {"is_domain_connection": "true"}, htmx=True)
    assert forged.status_code == 403


def test_one_rate_limit_budget_for_both_instances(deployment: Deployment) -> None:
    """Auth0's budget is spent through A; B then refuses without sending (no 429 from Auth0)."""
    d, stack = deployment, deployment.stack
    limit = 5
    stack.configure_sandbox(rate_limit=limit, rate_window=60)  # a full bucket of 5 a minute
    d.clear_log()
    try:
        olivia = Person("olivia@example.com")
        limited = "rate limiting Org Desk (429"
        # A: one call a page (GET /organizations/{id}) until Org Desk says the budget is spent.
        answers = [olivia.get(d.a, f"/orgs/{org}/").text for org in d.orgs[: limit + 3]]
        assert [limited in a for a in answers] == [False] * limit + [True] * 3
        learnt = stack.sandbox_requests()
        assert len(calls(learnt, "GET", r"/api/v2/.*")) == limit
        assert not [e for e in learnt if e["status"] == 429]

        # Now both instances, 16 people at once: nobody reaches Auth0, everybody is told.
        def browse(n: int, instance: Instance) -> list[bool]:
            person = Person(f"late{n:02d}@example.com")
            return [limited in person.get(instance, f"/orgs/{org}/").text for org in d.orgs[:4]]

        people = range(THREADS_PER_INSTANCE)
        results = together([partial(browse, n, i) for i in (d.a, d.b) for n in people])
        assert all(r == [True] * 4 for r in results), results
        log = stack.sandbox_requests()
        api_calls = calls(log, "GET", r"/api/v2/.*")
        too_many = [e for e in log if e["status"] == 429]
        print(f"rate limit {limit}: {len(api_calls)} calls reached Auth0, {len(too_many)} 429s")
        assert len(api_calls) == limit and not too_many
        # One token for the lifetime, whatever ran before in this module
        assert d.token_fetches() == 1
    finally:
        stack.configure_sandbox(rate_limit=None)
        for key in stack.redis("--scan", "--pattern", "*auth0:rate:*").split():
            stack.redis("DEL", key)


def test_a_fresh_budget_spent_by_both_instances_at_once(deployment: Deployment) -> None:
    """No budget known yet and 16 people at once on both instances: what is in flight before
    Auth0's first answer goes out (nothing can know the budget before it), everything after
    is refused without sending, so the 429s are bounded by the concurrency, not the load."""
    d, stack = deployment, deployment.stack
    limit = 10
    stack.configure_sandbox(rate_limit=limit, rate_window=60)
    d.clear_log()
    people = 2 * THREADS_PER_INSTANCE
    try:

        def browse(n: int, instance: Instance) -> int:
            person = Person(f"fresh{n:02d}@example.com")
            return sum(person.get(instance, f"/orgs/{org}/").status_code for org in d.orgs[:6])

        work = [partial(browse, n, i) for i in (d.a, d.b) for n in range(THREADS_PER_INSTANCE)]
        assert all(r == 200 * 6 for r in together(work))  # pages answer, with a message
        log = stack.sandbox_requests()
        sent = calls(log, "GET", r"/api/v2/.*")
        too_many = [e for e in log if e["status"] == 429]
        print(
            f"fresh budget {limit}, {people * 6} pages at once: {len(sent)} calls reached "
            f"Auth0, {len(sent) - len(too_many)} answered, {len(too_many)} 429s"
        )
        assert len(sent) - len(too_many) <= limit
        assert len(too_many) <= people  # at most one a request in flight before the first answer
        assert d.token_fetches() == 1
    finally:
        stack.configure_sandbox(rate_limit=None)
        for key in stack.redis("--scan", "--pattern", "*auth0:rate:*").split():
            stack.redis("DEL", key)
