"""The sandbox tenant's scopes, rate limits and faults; serving it over real HTTP; the
process-wide tenant and the `sandbox_api` management command.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time

import pytest
import requests

from adminsite.sandbox import (
    Tenant,
    default_tenant,
    serve,
)
from adminsite.sandbox.server import SandboxServer
from tests.sandbox.helpers import PIPEY, ROOT, SLASHY, Api, enc, org

# --- scopes, rate limits, faults ----------------------------------------------------------------


def test_missing_scopes_give_403(api: Api, sandbox: Tenant) -> None:
    acme = org(api, "acme")
    sandbox.set_scopes(["read:organizations_summary", "read:organization_members"])
    assert api.get("/organizations").status_code == 200
    r = api.get(f"/organizations/{acme}/members", fields="user_id,roles")
    assert r.status_code == 403
    assert r.json() == {
        "statusCode": 403,
        "error": "Forbidden",
        "message": "Insufficient scope, expected any of: read:organization_members, "
        "read:organization_member_roles",
        "errorCode": "insufficient_scope",
    }
    assert api.get(f"/organizations/{acme}/members").status_code == 200
    r = api.get("/organizations/name/acme")
    assert r.json()["message"] == "Insufficient scope, expected any of: read:organizations"
    r = api.get("/organizations/org_XXXXXXXXXXXXXXXX/enabled_connections")
    assert r.status_code == 403  # scopes are checked before the organization is looked up
    assert api.get_token().json()["scope"] == (
        "read:organizations_summary read:organization_members"
    )
    sandbox.set_scopes(["read:connections", "update:connections"])
    cid = api.get("/connections").json()[0]["id"]
    assert "options" not in api.get(f"/connections/{cid}").json()
    r = api.call("PATCH", f"/connections/{cid}", json={"options": {}})
    assert r.status_code == 403 and "update:connections_options" in r.json()["message"]
    sandbox.set_scopes(None)
    assert api.get(f"/organizations/{acme}/members", fields="roles").status_code == 200


def test_rate_limit_headers_and_429(api: Api, sandbox: Tenant) -> None:
    for r in (api.get("/organizations"), api.get("/nope"), api.get("/connections/con_x")):
        assert {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} <= set(r.headers)
        assert abs(int(r.headers["X-RateLimit-Reset"]) - time.time()) < 120
    sandbox.set_rate_limit(3, window=60)
    remaining = [int(api.get("/roles").headers["X-RateLimit-Remaining"]) for _ in range(3)]
    assert remaining == [2, 1, 0]
    r = api.get("/roles")
    assert r.status_code == 429
    assert r.json() == {
        "statusCode": 429,
        "error": "Too Many Requests",
        "message": "Global limit has been reached",
        "errorCode": "too_many_requests",
    }
    assert r.headers["X-RateLimit-Limit"] == "3" and r.headers["X-RateLimit-Remaining"] == "0"
    assert 0 < int(r.headers["X-RateLimit-Reset"]) - time.time() <= 21
    assert api.get_token().status_code == 200  # the token endpoint is not in the bucket
    sandbox.set_rate_limit(None)
    assert api.get("/roles").status_code == 200


def test_rate_limit_refills(api: Api, sandbox: Tenant) -> None:
    sandbox.set_rate_limit(1, window=0.2)
    assert api.get("/roles").status_code == 200
    assert api.get("/roles").status_code == 429
    time.sleep(0.25)
    assert api.get("/roles").status_code == 200


def test_fault_statuses_with_standard_bodies(api: Api, sandbox: Tenant) -> None:
    sandbox.add_fault(method="GET", path=r"^/api/v2/organizations$", status=429)
    r = api.get("/organizations")
    assert r.status_code == 429 and r.json()["errorCode"] == "too_many_requests"
    assert r.headers["X-RateLimit-Remaining"] == "0"
    assert int(r.headers["X-RateLimit-Reset"]) > time.time()
    assert api.get("/organizations").status_code == 200  # times=1
    sandbox.add_fault(path=r"/roles", status=401, times=2)
    assert [api.get("/roles").status_code for _ in range(3)] == [401, 401, 200]
    sandbox.add_fault(method="PATCH", status=503)
    assert api.get("/roles").status_code == 200  # method does not match
    cid = api.get("/connections").json()[0]["id"]
    r = api.call("PATCH", f"/connections/{cid}", json={"is_domain_connection": True})
    assert r.status_code == 503 and r.json()["message"] == "Service Unavailable"
    assert api.get(f"/connections/{cid}").json()["is_domain_connection"] is False  # not applied
    sandbox.add_fault(path="/roles", status=403)
    assert "read:roles" in api.get("/roles").json()["message"]
    sandbox.add_fault(path="/roles", status=429, headers={"X-RateLimit-Reset": "12345"})
    assert api.get("/roles").headers["X-RateLimit-Reset"] == "12345"
    sandbox.add_fault(path="/roles", status=500, times=None)
    assert api.get("/roles").status_code == api.get("/roles").status_code == 500
    sandbox.clear_faults()
    assert api.get("/roles").status_code == 200


def test_fault_custom_and_non_json_bodies(api: Api, sandbox: Tenant) -> None:
    sandbox.add_fault(path="enabled_connections", status=502, body="<html>502 Bad Gateway</html>")
    acme = org(api, "acme")
    r = api.get(f"/organizations/{acme}/enabled_connections")
    assert r.status_code == 502 and r.text == "<html>502 Bad Gateway</html>"
    assert r.headers["Content-Type"].startswith("text/html")
    sandbox.add_fault(path="/roles", status=200, body="this is not json")
    with pytest.raises(ValueError):
        api.get("/roles").json()
    custom = {"statusCode": 409, "error": "Conflict", "message": "custom", "errorCode": "x"}
    sandbox.add_fault(path="/roles", status=409, body=custom)
    assert api.get("/roles").json() == custom


def test_fault_delay_becomes_a_read_timeout(api: Api, sandbox: Tenant) -> None:
    sandbox.add_fault(path="/roles", delay=2.0)
    started = time.perf_counter()
    with pytest.raises(requests.exceptions.ReadTimeout):
        api.call("GET", "/roles", timeout=0.15)
    assert 0.1 < time.perf_counter() - started < 1.0
    sandbox.add_fault(path="/roles", delay=2.0)
    with pytest.raises(requests.exceptions.Timeout):
        api.call("GET", "/roles", timeout=(1, 0.1))
    sandbox.add_fault(path="/roles", delay=0.05)
    assert api.call("GET", "/roles", timeout=1).status_code == 200  # a short delay just waits
    assert api.call("GET", "/roles", timeout=0.01).status_code == 200  # fault used up


def test_latency_applies_to_every_api_call(api: Api, sandbox: Tenant) -> None:
    sandbox.latency = 0.05
    started = time.perf_counter()
    api.get("/roles")
    assert time.perf_counter() - started >= 0.05
    with pytest.raises(requests.exceptions.ReadTimeout):
        api.call("GET", "/roles", timeout=0.01)


def test_fault_drop_becomes_a_connection_error(api: Api, sandbox: Tenant) -> None:
    sandbox.add_fault(method="DELETE", drop=True)
    acme = org(api, "acme")
    cid = api.get(f"/organizations/{acme}/enabled_connections").json()[0]["connection_id"]
    with pytest.raises(requests.exceptions.ConnectionError):
        api.call("DELETE", f"/organizations/{acme}/enabled_connections/{cid}")
    assert sandbox.requests_log[-1]["method"] == "DELETE"
    assert sandbox.requests_log[-1]["status"] is None
    assert len(api.get(f"/organizations/{acme}/enabled_connections").json()) >= 5


@pytest.mark.parametrize("transport", ["api", "http"])
def test_fault_truncate_cuts_the_answer_after_making_the_change(
    request: pytest.FixtureRequest, sandbox: Tenant, transport: str
) -> None:
    client: Api = request.getfixturevalue(transport)
    acme = org(client, "acme")
    before = client.get(f"/organizations/{acme}/enabled_connections").json()
    cid = before[0]["connection_id"]
    sandbox.add_fault(method="PATCH", path="/enabled_connections/", truncate=True)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        client.call(
            "PATCH",
            f"/organizations/{acme}/enabled_connections/{cid}",
            json={"show_as_button": not before[0]["show_as_button"]},
        )
    after = client.get(f"/organizations/{acme}/enabled_connections").json()
    assert after[0]["show_as_button"] is not before[0]["show_as_button"]  # the change was made


def test_requests_log_and_state_persistence(api: Api, sandbox: Tenant) -> None:
    acme = org(api, "acme")
    sandbox.clear_log()
    assert sandbox.requests_log == []
    api.get("/organizations", per_page=5, include_totals="true")
    conn = api.get(f"/organizations/{acme}/enabled_connections").json()[0]
    api.call(
        "PATCH",
        f"/organizations/{acme}/enabled_connections/{conn['connection_id']}",
        json={"show_as_button": not conn["show_as_button"]},
    )
    first = sandbox.requests_log[0]
    assert first == {
        "method": "GET",
        "raw_path": "/api/v2/organizations",
        "query": "per_page=5&include_totals=true",
        "json": None,
        "status": 200,
    }
    assert sandbox.requests_log[-1]["json"] == {"show_as_button": not conn["show_as_button"]}
    again = api.get(f"/organizations/{acme}/enabled_connections").json()[0]
    assert again["show_as_button"] is not conn["show_as_button"]
    sandbox.reset()
    assert sandbox.requests_log == []
    assert api.get(f"/organizations/{acme}/enabled_connections").json()[0] == conn  # reseeded


def test_concurrent_calls_are_safe(api: Api, sandbox: Tenant) -> None:
    acme = org(api, "acme")
    path = f"/organizations/{acme}/members/{enc(PIPEY)}/roles"
    roles = [r["id"] for r in api.get("/roles", per_page=40).json()]
    errors: list[int] = []

    def worker(chunk: list[str]) -> None:
        for rid in chunk:
            status = api.call("POST", path, json={"roles": [rid]}).status_code
            if status != 204:
                errors.append(status)

    threads = [threading.Thread(target=worker, args=(roles[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert {r["id"] for r in api.get(path, per_page=100).json()} >= set(roles)


# --- real HTTP ----------------------------------------------------------------------------------


def test_http_serves_the_same_contract(http: Api, sandbox: Tenant) -> None:
    assert http.base.startswith("http://127.0.0.1:")
    acme = org(http, "acme")
    path = f"/organizations/{acme}/members/{enc(SLASHY)}/roles"
    assert http.get(path).status_code == 200
    assert sandbox.requests_log[-1]["raw_path"] == f"/api/v2{path}"
    r = http.get(f"/organizations/{acme}%2Fenabled_connections")
    assert r.status_code == 404 and "organization" in r.json()["message"]
    assert "X-RateLimit-Reset" in r.headers
    body = http.get("/organizations", take=100).json()
    assert len(body["organizations"]) == 100 and body["next"]
    r = http.call("DELETE", f"/organizations/{acme}/enabled_connections/con_XXXXXXXXXXXXXXXX")
    assert r.status_code == 404


def test_http_faults(http: Api, sandbox: Tenant) -> None:
    sandbox.add_fault(path="/roles", status=503)
    assert http.get("/roles").status_code == 503
    sandbox.add_fault(path="/roles", drop=True)
    with pytest.raises(requests.exceptions.ConnectionError):
        http.get("/roles")
    sandbox.add_fault(path="/roles", delay=1.0)
    started = time.perf_counter()
    with pytest.raises(requests.exceptions.ReadTimeout):
        http.call("GET", "/roles", timeout=0.2)
    assert time.perf_counter() - started < 0.9
    sandbox.add_fault(path="/roles", status=502, body="<html>502 Bad Gateway</html>")
    assert http.get("/roles").text == "<html>502 Bad Gateway</html>"
    assert http.get("/roles").status_code == 200


def test_wait_idle_waits_for_a_change_the_client_gave_up_on(
    http: Api, sandbox: Tenant, _server: SandboxServer
) -> None:
    """A delay past the client's timeout: the change is still made when the delay ends, after
    the client has moved on. wait_idle() (tests/conftest.py's http_tenant, before each reset)
    returns only then, so that change cannot land in the next test's fresh tenant."""
    connection = http.get("/connections").json()[0]
    flipped = not connection["is_domain_connection"]
    sandbox.add_fault(path="/connections/", method="PATCH", delay=0.6)
    with pytest.raises(requests.exceptions.ReadTimeout):
        http.call(
            "PATCH",
            f"/connections/{connection['id']}",
            json={"is_domain_connection": flipped},
            timeout=0.1,
        )
    assert _server.wait_idle(timeout=0.05) is False  # still sleeping on it
    assert _server.wait_idle(timeout=5) is True
    now = http.get(f"/connections/{connection['id']}").json()
    assert now["is_domain_connection"] is flipped  # made after the client gave up


def test_http_control_endpoints(http: Api, sandbox: Tenant) -> None:
    s, base = http.session, http.base
    r = s.post(f"{base}/__sandbox/faults", json={"path": "/roles", "status": 500, "times": 2})
    assert r.status_code == 201
    assert [http.get("/roles").status_code for _ in range(3)] == [500, 500, 200]
    s.post(f"{base}/__sandbox/faults", json={"path": "/roles", "status": 500})
    assert s.delete(f"{base}/__sandbox/faults").status_code == 204
    assert http.get("/roles").status_code == 200
    assert s.post(f"{base}/__sandbox/faults", json={"nope": 1}).status_code == 400
    log = s.get(f"{base}/__sandbox/requests").json()
    assert log[-1]["raw_path"] == "/api/v2/roles" and log[-1]["status"] == 200
    assert not any(e["raw_path"].startswith("/__sandbox") for e in log)
    assert s.delete(f"{base}/__sandbox/requests").status_code == 204
    assert s.get(f"{base}/__sandbox/requests").json() == []
    r = s.post(f"{base}/__sandbox/config", json={"scopes": ["read:organizations"]})
    assert r.json()["scopes"] == ["read:organizations"]
    assert http.get("/roles").status_code == 403
    s.post(f"{base}/__sandbox/config", json={"scopes": None, "rate_limit": 1, "rate_window": 60})
    assert [http.get("/roles").status_code for _ in range(2)] == [200, 429]
    s.post(f"{base}/__sandbox/config", json={"rate_limit": None, "latency": 0.0})
    s.post(f"{base}/__sandbox/config", json={"expire_tokens": True})
    assert http.get("/roles").status_code == 401
    http.login()
    acme = org(http, "acme")
    cid = http.get(f"/organizations/{acme}/enabled_connections").json()[0]["connection_id"]
    http.call("DELETE", f"/organizations/{acme}/enabled_connections/{cid}")
    assert s.post(f"{base}/__sandbox/reset").status_code == 204
    assert http.get(f"/organizations/{acme}/enabled_connections/{cid}").status_code == 200


def test_serve_refuses_non_loopback_hosts(sandbox: Tenant) -> None:
    with pytest.raises(ValueError, match="loopback"):
        serve(sandbox, host="0.0.0.0")


# --- process-wide tenant and the management command ---------------------------------------------


def test_default_tenant_is_one_per_process() -> None:
    from django.conf import settings

    results: list[Tenant] = []
    threads = [threading.Thread(target=lambda: results.append(default_tenant())) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(t is default_tenant() for t in results)
    expected = getattr(settings, "SANDBOX_ORGANIZATIONS", 1200) if settings.configured else 1200
    assert len(default_tenant().store.orgs) == expected


@pytest.mark.slow  # starts manage.py sandbox_api in a process of its own
def test_sandbox_api_command_serves_until_interrupted() -> None:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "PYTHONUNBUFFERED": "1"}
    args = [sys.executable, str(ROOT / "manage.py"), "sandbox_api", "--port", "0"]
    refused = subprocess.run(
        [*args, "--host", "0.0.0.0"], env=env, capture_output=True, text=True, timeout=120
    )
    assert refused.returncode != 0 and "loopback" in refused.stderr
    proc = subprocess.Popen(
        [*args, "--organizations", "30", "--members", "5"],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+", first)
        assert url, first
        assert "AUTH0_CLIENT_SECRET=sandbox-secret" in proc.stdout.readline() + (
            proc.stdout.readline()
        )
        client = Api(requests.Session(), url.group(0)).login()
        assert len(client.get("/organizations", per_page=100).json()) == 30
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
    assert proc.returncode == 0


def test_service_module_does_not_import_the_sandbox() -> None:
    """The sandbox registers its transport with the client; the client never imports it."""
    import subprocess
    import sys

    code = (
        "import sys; import adminsite.auth0; "
        "print('adminsite.auth0.client' in sys.modules, "
        "sorted(m for m in sys.modules if m.startswith('adminsite.sandbox')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.strip() == "True []"  # the client was imported, and no sandbox module


def test_sandbox_app_registers_its_transport() -> None:
    from adminsite import sandbox
    from adminsite.auth0 import client

    assert sandbox.SANDBOX_BASE_URL + "/" in client._transports
