"""One removal is restored once, even when several restores of it are posted at the same moment.

Real concurrent requests: the live server (one thread per request, each with its own
connection to the file database of tests/settings.py), six threads released together, and
the sandbox's answer to the restore slowed down so that the requests overlap.
"""

from __future__ import annotations

import re
import threading
import time

import pytest
import requests
from django.conf import settings
from django.test import Client
from django.urls import reverse

from adminsite import auth0
from adminsite.audit import recording as audit
from adminsite.audit.models import Action, AuditEntry, AuditQuerySet, Outcome
from tests.helpers import api_calls, org_id

# Real concurrent requests on the live server, slowed down to overlap: outside the fast loop.
pytestmark = pytest.mark.slow

THREADS = 6
REFUSED = re.compile(r"already under way|already restored by olivia")


def _signed_in(live_server, operator) -> requests.Session:
    """A browser-like session of the operator: session cookie plus the CSRF cookie."""
    client = Client()
    client.force_login(operator)
    browser = requests.Session()
    browser.cookies.set(
        settings.SESSION_COOKIE_NAME, client.cookies[settings.SESSION_COOKIE_NAME].value
    )
    return browser


@pytest.mark.parametrize("run", range(3))
def test_concurrent_restores_of_one_removal_call_auth0_once(
    live_server, tenant, operator, monkeypatch, run
) -> None:
    acme = org_id("acme")
    conn = next(c for c in auth0.list_enabled_connections(org_id=acme) if c.name == "acme-saml")
    removal = AuditEntry.objects.create(
        username="olivia",
        action=Action.REMOVE_CONNECTION,
        org_id=acme,
        org_name="Acme Corporation",
        connection_id=conn.connection_id,
        connection_name=conn.name,
        outcome=Outcome.SUCCESS,
        before=audit.connection_settings(conn),
    )
    auth0.remove_enabled_connection(org_id=acme, connection_id=conn.connection_id)

    browser = _signed_in(live_server, operator)
    detail = browser.get(live_server.url + reverse("audit:detail", args=[removal.pk]))
    assert "Restore the connection" in detail.text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', detail.text)
    assert token is not None

    # A busy database: writing an entry takes a moment, so that the requests overlap between
    # "is a restore under way?" and writing their own pending entry, as under load.
    create = AuditQuerySet.create

    def slow_create(self, **fields):
        time.sleep(0.1)
        return create(self, **fields)

    monkeypatch.setattr(AuditQuerySet, "create", slow_create)
    # Slow the restore down so that every request arrives while the first one is in flight.
    tenant.add_fault(method="POST", path=r"/enabled_connections$", delay=1.0, times=None)
    tenant.clear_log()
    start = threading.Barrier(THREADS)
    pages: list[str] = [""] * THREADS

    def post(i: int) -> None:
        start.wait()
        r = browser.post(
            live_server.url + reverse("audit:restore", args=[removal.pk]),
            data={"csrfmiddlewaretoken": token.group(1)},
            headers={"Referer": detail.url},
            timeout=30,
        )
        pages[i] = f"{r.status_code} {r.text}"

    threads = [threading.Thread(target=post, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    posts = [
        c
        for c in api_calls(tenant)
        if c["method"] == "POST"
        and c["raw_path"] == f"/api/v2/organizations/{acme}/enabled_connections"
    ]
    assert len(posts) == 1  # exactly one restore reached Auth0
    restores = AuditEntry.objects.filter(action=Action.RESTORE_CONNECTION)
    assert [r.outcome for r in restores] == [Outcome.SUCCESS]
    assert all(p.startswith("200 ") for p in pages), [p[:200] for p in pages]
    done = [p for p in pages if "Restored the connection acme-saml" in p]
    refused = [p for p in pages if REFUSED.search(p)]
    assert (len(done), len(refused)) == (1, THREADS - 1)
    assert "nothing more was sent" in " ".join(refused) or "nothing was sent" in refused[0]
    assert conn.connection_id in {
        c.connection_id for c in auth0.list_enabled_connections(org_id=acme)
    }
