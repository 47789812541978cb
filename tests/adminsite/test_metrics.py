"""/metrics (who may read it, what it shows, and what it never shows), /readyz and /healthz,
and the request log: one line per request, text or JSON, never a secret."""

from __future__ import annotations

import json
import logging
import logging.config
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache, caches
from django.core.exceptions import ImproperlyConfigured
from django.db import OperationalError, connections
from django.test import Client
from django.urls import reverse
from prometheus_client.parser import text_string_to_metric_families

from adminsite import auth0, metrics, ops_config
from tests.adminsite.helpers import via_proxy
from tests.helpers import HTMX

pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-for-the-tests-5b2e"
OUTSIDE = "192.0.2.1"  # TEST-NET-1: never allowed below


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a scrape, by name and labels (the scrape must parse as Prometheus text)."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def sample(text: str, name: str, **labels: str) -> float:
    return samples(text).get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def reader(settings) -> Client:
    """A client Org Desk answers /metrics to: 127.0.0.1 is allowed."""
    settings.METRICS_ALLOWED_IPS = ["127.0.0.1"]
    return Client()


def scrape(client: Client) -> str:
    response = client.get(reverse("metrics"))
    assert response.status_code == 200
    return response.content.decode()


# --- Who may read /metrics ----------------------------------------------------------------------


def test_nobody_reads_metrics_by_default(client) -> None:
    for extra in ({}, {"HTTP_AUTHORIZATION": "Bearer "}, {"HTTP_AUTHORIZATION": "Bearer x"}):
        response = client.get(reverse("metrics"), **extra)
        assert response.status_code == 404
        assert b"orgdesk_" not in response.content


@pytest.mark.parametrize(
    "allowed",
    [["127.0.0.1"], ["10.0.0.0/8", "127.0.0.0/8"], "10.0.0.0/8,127.0.0.1", ["::1", "127.0.0.1"]],
)
def test_an_allowed_address_reads_metrics(client, settings, allowed) -> None:
    settings.METRICS_ALLOWED_IPS = allowed
    response = client.get(reverse("metrics"))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert response["Cache-Control"] == "no-store"
    assert "# TYPE orgdesk_upstream_calls_total counter" in response.content.decode()
    samples(response.content.decode())  # parses as Prometheus text


def test_an_address_outside_the_list_gets_404(client, settings) -> None:
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8", "::1"]
    assert client.get(reverse("metrics")).status_code == 404  # 127.0.0.1
    # The peer counts, not what a client says about itself.
    forwarded = {"HTTP_X_FORWARDED_FOR": "10.0.0.5", "HTTP_X_REAL_IP": "10.0.0.5"}
    assert client.get(reverse("metrics"), REMOTE_ADDR=OUTSIDE, **forwarded).status_code == 404
    assert client.get(reverse("metrics"), REMOTE_ADDR="10.9.8.7").status_code == 200  # control
    assert client.get(reverse("metrics"), REMOTE_ADDR="::ffff:10.9.8.7").status_code == 200


def test_the_bearer_token_reads_metrics_from_anywhere(client, settings) -> None:
    settings.METRICS_TOKEN = TOKEN
    url = reverse("metrics")
    assert (
        client.get(url, REMOTE_ADDR=OUTSIDE, HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code
        == 200
    )
    for wrong in (f"Bearer {TOKEN}x", f"Bearer {TOKEN[:-1]}", TOKEN, f"Basic {TOKEN}", "Bearer "):
        response = client.get(url, REMOTE_ADDR=OUTSIDE, HTTP_AUTHORIZATION=wrong)
        assert response.status_code == 404, wrong
    assert client.get(url, REMOTE_ADDR=OUTSIDE).status_code == 404


def test_a_404_for_metrics_looks_like_any_missing_page(client) -> None:
    refused = client.get(reverse("metrics"))
    missing = client.get("/no-such-page")
    assert refused.status_code == missing.status_code == 404
    assert [t.name for t in refused.templates] == [t.name for t in missing.templates]
    assert refused["Content-Type"] == missing["Content-Type"]


def test_openmetrics_when_the_scraper_asks(reader) -> None:
    response = reader.get(
        reverse("metrics"), HTTP_ACCEPT="application/openmetrics-text; version=1.0.0"
    )
    assert response["Content-Type"].startswith("application/openmetrics-text; version=1.0.0")
    assert response.content.rstrip().endswith(b"# EOF")


def test_metrics_reads_no_session_and_no_database(reader, django_assert_num_queries) -> None:
    with django_assert_num_queries(0):
        response = reader.get(
            reverse("metrics"), HTTP_COOKIE="sessionid=stale0session0key0abcdefgh"
        )
    assert response.status_code == 200 and not response.cookies


def test_metrics_and_readyz_need_no_sign_in_behind_the_proxy(client, sso, settings) -> None:
    settings.METRICS_TOKEN = TOKEN
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}
    assert client.get(reverse("metrics"), REMOTE_ADDR=OUTSIDE, **bearer).status_code == 200
    assert client.get(reverse("readyz"), REMOTE_ADDR=OUTSIDE).status_code == 200
    # control: a page behind the proxy refuses the same request
    assert client.get(reverse("orgs:list"), REMOTE_ADDR=OUTSIDE, **bearer).status_code == 403


def test_metrics_and_readyz_are_not_redirected_to_https(reader, settings) -> None:
    """Prometheus and load balancers call gunicorn's address over plain http, like /healthz."""
    settings.SECURE_SSL_REDIRECT = True
    assert reader.get(reverse("metrics")).status_code == 200
    assert reader.get(reverse("readyz")).status_code == 200
    assert reader.get(reverse("orgs:list")).status_code == 301  # control: a page is redirected


def test_settings_are_checked() -> None:
    ops_config.check_metrics(["10.0.3.0/24", "fd00::1"], TOKEN)
    with pytest.raises(ImproperlyConfigured, match="'10.0.3.x' is not an IP address"):
        ops_config.check_metrics(["10.0.3.x"], "")
    with pytest.raises(ImproperlyConfigured, match="every address"):
        ops_config.check_metrics(["0.0.0.0/0"], "")
    with pytest.raises(ImproperlyConfigured, match="METRICS_TOKEN is shorter"):
        ops_config.check_metrics([], "short")
    with pytest.raises(ImproperlyConfigured, match="LOG_FORMAT"):
        ops_config.log_format("xml")


# --- What /metrics shows ------------------------------------------------------------------------


def test_a_page_s_upstream_calls_show_by_group_and_status(operator_client, reader, tenant) -> None:
    acme = auth0.get_organization_by_name(name="acme").id
    members = [m.user_id for m in auth0.list_members(org_id=acme, take=5).members]
    before = scrape(reader)
    assert operator_client.get(reverse("orgs:detail", args=[acme])).status_code == 200
    part = operator_client.get(reverse("orgs:members", args=[acme]), headers=HTMX)
    assert part.status_code == 200
    after = scrape(reader)
    for group in ("organizations", "organizations.members"):
        labels = {"group": group, "status": "200"}
        assert sample(after, "orgdesk_upstream_calls_total", **labels) == (
            sample(before, "orgdesk_upstream_calls_total", **labels) + 1
        )
        count = "orgdesk_upstream_duration_seconds_count"
        assert sample(after, count, group=group) == sample(before, count, group=group) + 1
    assert sample(after, "orgdesk_rate_budget_remaining", group="organizations.members") == 50
    for secret in (acme, "acme", *members, *(quote(m, safe="") for m in members)):
        assert secret not in after, secret
    assert django_settings.AUTH0_CLIENT_SECRET not in after


def test_a_429_shows(operator_client, reader, tenant) -> None:
    acme = auth0.get_organization_by_name(name="acme").id
    tenant.add_fault(method="GET", path=r"^/api/v2/organizations/org_[^/]+$", status=429)
    before = scrape(reader)
    page = operator_client.get(reverse("orgs:detail", args=[acme]))
    assert "rate limit" in page.content.decode().lower()
    after = scrape(reader)
    name = "orgdesk_upstream_rate_limited_total"
    assert (
        sample(after, name, group="organizations")
        == sample(before, name, group="organizations") + 1
    )
    calls = {"group": "organizations", "status": "429"}
    assert sample(after, "orgdesk_upstream_calls_total", **calls) == (
        sample(before, "orgdesk_upstream_calls_total", **calls) + 1
    )


def test_the_sandbox_s_rate_limit_makes_a_call_wait(operator_client, reader, tenant) -> None:
    """One call a fifth of a second: the page's call spends the budget, the next one waits."""
    acme = auth0.get_organization_by_name(name="acme").id
    tenant.set_rate_limit(1, window=0.2)
    before = scrape(reader)
    operator_client.get(reverse("orgs:detail", args=[acme]))
    left = scrape(reader)
    assert sample(left, "orgdesk_rate_budget_remaining", group="organizations") == 0
    operator_client.get(reverse("orgs:detail", args=[acme]))
    after = scrape(reader)
    waits = "orgdesk_rate_limit_waits_total"
    assert sample(after, waits, reason="budget") == sample(before, waits, reason="budget") + 1
    calls = {"group": "organizations", "status": "200"}
    assert sample(after, "orgdesk_upstream_calls_total", **calls) == (
        sample(before, "orgdesk_upstream_calls_total", **calls) + 2
    )


def test_token_fetches_show(operator_client, reader, tenant) -> None:
    acme = auth0.get_organization_by_name(name="acme").id
    before = scrape(reader)
    cache.clear()  # the token is gone: the next page fetches one
    operator_client.get(reverse("orgs:detail", args=[acme]))
    operator_client.get(reverse("orgs:detail", args=[acme]))  # and reuses it
    after = scrape(reader)
    name = "orgdesk_token_fetches_total"
    assert sample(after, name, outcome="ok") == sample(before, name, outcome="ok") + 1
    token = {"group": "token", "status": "200"}
    assert sample(after, "orgdesk_upstream_calls_total", **token) == (
        sample(before, "orgdesk_upstream_calls_total", **token) + 1
    )


def test_request_duration_by_route_never_by_path(operator_client, reader, tenant) -> None:
    acme = auth0.get_organization_by_name(name="acme").id
    detail = {"route": "orgs:detail", "method": "GET", "status": "2xx"}
    unmatched = {"route": "unmatched", "method": "GET", "status": "4xx"}
    health = {"route": "healthz", "method": "GET", "status": "2xx"}
    name = "orgdesk_request_duration_seconds_count"
    before = scrape(reader)
    operator_client.get(reverse("orgs:detail", args=[acme]))
    operator_client.get(f"/nowhere/{acme}/secret-path")
    operator_client.get(reverse("healthz"))
    after = scrape(reader)
    for labels in (detail, unmatched, health):
        assert sample(after, name, **labels) == sample(before, name, **labels) + 1, labels
    assert "secret-path" not in after and acme not in after and "/orgs/" not in after


def test_job_metrics_are_defined_at_zero(reader) -> None:
    text = scrape(reader)
    for kind in metrics.JOB_KINDS:
        assert ("orgdesk_jobs_running", frozenset({("kind", kind)})) in samples(text)
        assert sample(text, "orgdesk_jobs_running", kind=kind) == 0
        assert sample(text, "orgdesk_job_progress_ratio", kind=kind) == 0


# --- /readyz and /healthz -----------------------------------------------------------------------


def test_readyz_checks_the_database_and_the_cache(client, tenant) -> None:
    tenant.clear_log()
    response = client.get(reverse("readyz"), REMOTE_ADDR=OUTSIDE)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "cache": "ok"}
    assert tenant.requests_log == []  # no Auth0 call


def test_readyz_is_503_when_the_cache_fails(client, monkeypatch, caplog) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("redis://:hunter2@cache:6379 refused")

    monkeypatch.setattr(type(caches["default"]), "set", broken)
    response = client.get(reverse("readyz"))
    assert response.status_code == 503
    assert response.json() == {"status": "failed", "database": "ok", "cache": "failed"}
    assert "hunter2" not in response.content.decode() + caplog.text
    assert "the cache check failed (ConnectionError)" in caplog.text


def test_readyz_is_503_when_the_cache_forgets(client, monkeypatch) -> None:
    monkeypatch.setattr(type(caches["default"]), "get", lambda *a, **k: None)
    response = client.get(reverse("readyz"))
    assert response.status_code == 503 and response.json()["cache"] == "failed"


def test_readyz_is_503_when_the_database_fails(client, monkeypatch) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("could not connect to server")

    monkeypatch.setattr(type(connections["default"]), "cursor", broken)
    response = client.get(reverse("readyz"))
    assert response.status_code == 503
    assert response.json() == {"status": "failed", "database": "failed", "cache": "ok"}


def test_healthz_calls_nobody(client, tenant, django_assert_num_queries) -> None:
    tenant.clear_log()
    with django_assert_num_queries(0):
        response = client.get(reverse("healthz"), REMOTE_ADDR=OUTSIDE)
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert tenant.requests_log == []


# --- The request log --------------------------------------------------------------------------


@pytest.fixture
def log_format(capsys) -> Iterator[Any]:
    """Configure logging as settings do for a LOG_FORMAT; the lines land in capsys' stderr."""

    def configure(fmt: str) -> None:
        logging.config.dictConfig(ops_config.logging_config(django_settings.LOGGING, fmt, "INFO"))
        capsys.readouterr()

    yield configure
    logging.config.dictConfig(django_settings.LOGGING)


SEARCH = "alice.searched@example.com"


def signed_in_search(operator_client) -> tuple[Any, str]:
    """A search for an email, with a session cookie and a bearer token in the request."""
    session = operator_client.cookies[django_settings.SESSION_COOKIE_NAME].value
    response = operator_client.get(
        reverse("orgs:search"),
        {"q": SEARCH},
        HTTP_AUTHORIZATION="Bearer header-token-never-logged",
        HTTP_X_REQUEST_ID="req-7f3a",
    )
    assert response.status_code == 200
    return response, session


def forbidden_in_logs(session: str) -> list[str]:
    access = cache.get(auth0.client._token_key()) or "no-token-cached"
    return [
        session,
        SEARCH,
        quote(SEARCH),
        "q=",
        "header-token-never-logged",
        access,
        django_settings.AUTH0_CLIENT_SECRET,
        "Cookie",
    ]


def test_json_log_one_line_per_request_without_secrets(
    operator_client, tenant, log_format, capsys
) -> None:
    log_format("json")
    response, session = signed_in_search(operator_client)
    err = capsys.readouterr().err
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]
    requests_logged = [line for line in lines if line["logger"] == "orgdesk.request"]
    assert len(requests_logged) == 1, err
    line = requests_logged[0]
    assert line["level"] == "INFO" and line["time"]
    assert (
        line["method"] == "GET"
        and line["route"] == "orgs:search"
        and line["path"] == "/orgs/search/"
    )
    assert line["status"] == 200 and line["duration_ms"] > 0
    assert line["upstream_calls"] == int(response["X-Upstream-Calls"]) >= 1
    assert line["upstream_ms"] >= 0
    assert line["user"] == "olivia" and line["request_id"] == "req-7f3a"
    for secret in forbidden_in_logs(session):
        assert secret not in err, secret


def test_json_log_covers_django_s_own_loggers(operator_client, log_format, capsys) -> None:
    log_format("json")
    operator_client.get("/no-such-page", {"q": SEARCH})
    err = capsys.readouterr().err
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]
    assert {"django.request", "orgdesk.request"} <= {line["logger"] for line in lines}
    (line,) = [line for line in lines if line["logger"] == "orgdesk.request"]
    assert (line["route"], line["status"], line["user"]) == ("unmatched", 404, "olivia")
    (django,) = [line for line in lines if line["logger"] == "django.request"]
    assert django["message"] == "Not Found: /no-such-page" and django["status_code"] == 404
    # Django's record carries the request, whose text has the query string: left out.
    assert "request" not in django and SEARCH not in err and quote(SEARCH) not in err


def test_text_log_one_line_per_request(operator_client, tenant, log_format, capsys) -> None:
    log_format("text")
    _, session = signed_in_search(operator_client)
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if " orgdesk.request " in line]
    assert len(lines) == 1, err
    assert " INFO orgdesk.request GET orgs:search /orgs/search/ 200 " in lines[0]
    assert "user=olivia" in lines[0]
    for secret in forbidden_in_logs(session):
        assert secret not in err, secret
    with pytest.raises(ValueError):
        json.loads(lines[0])


def test_anonymous_requests_log_no_user_and_read_no_session(
    client, log_format, capsys, django_assert_num_queries
) -> None:
    log_format("json")
    with django_assert_num_queries(0):
        client.get(reverse("healthz"), HTTP_COOKIE="sessionid=stale-session-key-1234")
    (line,) = [json.loads(x) for x in capsys.readouterr().err.splitlines() if x.strip()]
    assert (line["route"], line["user"], line["upstream_calls"]) == ("healthz", "-", 0)
    assert "request_id" not in line


def test_a_request_id_that_is_not_one_is_not_logged(client, log_format, capsys) -> None:
    log_format("json")
    client.get(reverse("healthz"), HTTP_X_REQUEST_ID="x\nforged line")
    (line,) = [json.loads(x) for x in capsys.readouterr().err.splitlines() if x.strip()]
    assert "request_id" not in line


def test_sso_person_is_logged(client, sso, tenant, log_format, capsys) -> None:
    log_format("json")
    client.get(reverse("orgs:list"), **via_proxy())
    (line,) = [
        json.loads(x)
        for x in capsys.readouterr().err.splitlines()
        if x.strip() and json.loads(x)["logger"] == "orgdesk.request"
    ]
    assert line["user"] == "alice@example.com" and line["status"] == 200


def test_the_request_line_is_written_once_the_answer_is_sent(rf, log_format, capsys) -> None:
    """The person does not wait for the line: it is written when the server closes the answer
    (adminsite.afteranswer), with the request's own duration and status."""
    from django.http import HttpResponse

    from adminsite.afteranswer import AfterAnswerMiddleware
    from adminsite.middleware import RequestLogMiddleware

    log_format("json")

    def view(request) -> HttpResponse:
        return HttpResponse("done", status=201)

    response = AfterAnswerMiddleware(RequestLogMiddleware(view))(rf.get("/healthz"))
    assert response.status_code == 201
    assert "orgdesk.request" not in capsys.readouterr().err  # the answer is on its way
    response.close()  # the server sent its last byte
    (line,) = [json.loads(x) for x in capsys.readouterr().err.splitlines() if x.strip()]
    assert line["logger"] == "orgdesk.request" and line["status"] == 201
    assert line["duration_ms"] >= 0 and line["path"] == "/healthz"
    # Without AfterAnswerMiddleware (no request to wait for): at once.
    RequestLogMiddleware(view)(rf.get("/healthz"))
    assert '"orgdesk.request"' in capsys.readouterr().err
