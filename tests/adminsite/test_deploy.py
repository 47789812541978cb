"""Production settings and serving: secure cookies and HSTS, `check --deploy`, start-up refusals,
and gunicorn + whitenoise as `make serve` runs them (each in its own process).
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.urls import reverse

ROOT = Path(__file__).resolve().parents[2]

# Every test here starts Python, manage.py or gunicorn in a process of its own: outside the
# fast loop.
pytestmark = [pytest.mark.django_db, pytest.mark.slow]

# --- Secure cookies, HSTS, check --deploy -------------------------------------------------------


def production_env(**extra: str) -> dict[str, str]:
    """The environment of a production deployment, with a strong random SECRET_KEY."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "SSO_", "AUTH0_", "SECURE_", "SESSION_", "CSRF_"))
        and k not in ("DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "CACHE_URL")
    }
    env.update(
        DJANGO_SETTINGS_MODULE="adminsite.settings",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(60),
        ALLOWED_HOSTS="orgdesk.example.com",
        AUTH0_DOMAIN="acme.eu.auth0.com",
        AUTH0_CLIENT_ID="org-desk-prod-client",
        AUTH0_CLIENT_SECRET=secrets.token_urlsafe(40),
    )
    env.update(extra)
    return env


def run_python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


CHECK_DEPLOY = (
    "import django; django.setup(); from django.core.management import call_command; "
    "call_command('check', deploy=True, fail_level='WARNING')"
)


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {
            "SSO_USER_HEADER": "X-Forwarded-Email",
            "SSO_GROUPS_HEADER": "X-Forwarded-Groups",
            "SSO_OPERATOR_GROUPS": "orgdesk-operators",
            "SSO_TRUSTED_PROXIES": "10.0.3.7",
        },
    ],
    ids=["password-login", "behind-sso"],
)
def test_check_deploy_passes_with_production_settings(extra: dict[str, str]) -> None:
    result = run_python(CHECK_DEPLOY, production_env(**extra))
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("extra", "warning"),
    [
        ({"SECURE_SSL_REDIRECT": "false"}, "security.W008"),
        ({"SECRET_KEY": "short-and-guessable"}, "security.W009"),
        ({"SECURE_HSTS_SECONDS": "0"}, "security.W004"),
    ],
)
def test_check_deploy_would_catch_a_weakened_setting(extra: dict[str, str], warning: str) -> None:
    """Control: the check above is not vacuous."""
    result = run_python(CHECK_DEPLOY, production_env(**extra))
    assert result.returncode != 0 and warning in result.stderr


PRINT_SECURITY = (
    "from django.conf import settings as s; import django; django.setup(); "
    "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, "
    "s.SECURE_HSTS_SECONDS, s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_SSL_REDIRECT, "
    "s.X_FRAME_OPTIONS, s.SECURE_PROXY_SSL_HEADER)"
)


def test_production_settings_are_secure() -> None:
    result = run_python(PRINT_SECURITY, production_env())
    assert result.returncode == 0, result.stderr
    assert result.stdout.split(None, 6)[:6] == ["True", "True", "True", "31536000", "True", "True"]
    assert "DENY ('HTTP_X_FORWARDED_PROTO', 'https')" in result.stdout


def test_without_debug_there_is_no_default_secret_key() -> None:
    result = run_python(PRINT_SECURITY, production_env(SECRET_KEY=""))
    assert result.returncode != 0 and "SECRET_KEY must be set" in result.stderr


def manage_check(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`manage.py check`, as a deployment runs it, in this environment."""
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def without_auth0(**extra: str) -> dict[str, str]:
    """The production environment with every AUTH0_* variable taken out, then `extra`."""
    env = {k: v for k, v in production_env().items() if not k.startswith("AUTH0_")}
    env.update(extra)
    return env


def test_production_without_auth0_domain_stops_at_start_up() -> None:
    """DEBUG off and no AUTH0_DOMAIN: no fake tenant served by accident."""
    result = manage_check(without_auth0())
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "AUTH0_DOMAIN is not set and DEBUG is off" in result.stderr
    assert "AUTH0_SANDBOX=true" in result.stderr
    assert "System check identified no issues" not in result.stdout


@pytest.mark.parametrize(
    "extra",
    [
        {"AUTH0_SANDBOX": "true"},  # a demo, asked for by name
        {"DEBUG": "true", "SECRET_KEY": ""},  # what `make run` does
        {
            "AUTH0_DOMAIN": "acme.eu.auth0.com",
            "AUTH0_CLIENT_ID": "org-desk-prod-client",
            "AUTH0_CLIENT_SECRET": "prod-secret-value",
        },
    ],
    ids=["sandbox-asked-for", "debug", "real-tenant"],
)
def test_start_up_with_a_tenant_or_the_sandbox_asked_for(extra: dict[str, str]) -> None:
    result = manage_check(without_auth0(**extra))
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_sandbox_and_a_real_domain_together_are_refused() -> None:
    result = manage_check(production_env(AUTH0_SANDBOX="true", AUTH0_DOMAIN="acme.eu.auth0.com"))
    assert result.returncode != 0
    assert "AUTH0_SANDBOX=true and AUTH0_DOMAIN are both set" in result.stderr


def test_https_responses_carry_hsts_and_secure_cookies(client, settings, operator, tenant) -> None:
    """With the production values (tests.settings relaxes them for the plain-http live server)."""
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SECURE_SSL_REDIRECT = True
    r = client.get(reverse("login"))
    assert r.status_code == 301 and r["Location"].startswith("https://")
    r = client.get(reverse("login"), secure=True)
    assert r["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert r.cookies["csrftoken"]["secure"] is True
    r = client.post(
        reverse("login"), {"username": "olivia", "password": "pw-operator"}, secure=True
    )
    assert r.status_code == 302
    session = r.cookies[settings.SESSION_COOKIE_NAME]
    assert session["secure"] is True and session["httponly"] is True
    assert session["samesite"] == "Lax"
    assert client.get(reverse("healthz")).status_code == 200  # exempt: load balancers use http


# --- gunicorn + whitenoise, as `make serve` runs them -------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


GUNICORN_ENV = ("GUNICORN_", "WEB_CONCURRENCY")


def gunicorn_config(**extra: str) -> dict[str, str]:
    """gunicorn's own reading of gunicorn.conf.py (`--print-config`), in production settings."""
    env = {k: v for k, v in production_env().items() if not k.startswith(GUNICORN_ENV)}
    env.update(extra)
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--print-config", "-c", "gunicorn.conf.py"]
        + ["adminsite.wsgi"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return {
        name.strip(): value.strip()
        for name, _, value in (line.partition("=") for line in result.stdout.splitlines())
        if value
    }


def test_gunicorn_is_configured_not_defaulted() -> None:
    config = gunicorn_config()
    assert config["config"] == "gunicorn.conf.py"
    assert config["bind"] == "['127.0.0.1:8000']"
    assert (config["workers"], config["threads"], config["worker_class"]) == ("2", "4", "gthread")
    assert (config["timeout"], config["graceful_timeout"], config["keepalive"]) == ("60", "30", "5")
    assert config["limit_request_line"] == "4094"
    assert config["limit_request_fields"] == "64"
    assert config["limit_request_field_size"] == "16384"
    assert config["accesslog"] == "-" and "%(U)s" in config["access_log_format"]
    assert "%(r)s" not in config["access_log_format"]  # no query strings (emails) in the log


def test_gunicorn_takes_its_sizes_from_the_environment() -> None:
    config = gunicorn_config(
        GUNICORN_BIND="10.0.3.10:8001",
        GUNICORN_WORKERS="5",
        GUNICORN_THREADS="8",
        GUNICORN_TIMEOUT="90",
    )
    assert config["bind"] == "['10.0.3.10:8001']"
    assert (config["workers"], config["threads"], config["timeout"]) == ("5", "8", "90")
    assert gunicorn_config(WEB_CONCURRENCY="3")["workers"] == "3"
    assert gunicorn_config(WEB_CONCURRENCY="3", GUNICORN_WORKERS="4")["workers"] == "4"


def test_gunicorn_check_config_loads_the_app() -> None:
    env = {k: v for k, v in production_env().items() if not k.startswith(GUNICORN_ENV)}
    ok = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--check-config", "-c", "gunicorn.conf.py"]
        + ["adminsite.wsgi"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stderr
    bad = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--check-config", "-c", "gunicorn.conf.py"]
        + ["adminsite.wsgi"],
        cwd=ROOT,
        env={**env, "GUNICORN_THREADS": "four"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode != 0
    assert "GUNICORN_THREADS='four' is not a whole number" in bad.stdout + bad.stderr


def raw_request(port: int, request: bytes) -> str:
    """Send bytes as they are (requests would refuse to) and return the status line."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request)
        return s.recv(4096).decode("latin-1").split("\r\n", 1)[0]


def test_make_serve_runs_gunicorn_with_whitenoise_behind_sso(tmp_path) -> None:
    """`make serve` itself (collectstatic, migrate, gunicorn with 2 workers on HOST:PORT), in
    production settings behind the SSO proxy, the proxy being this test on 127.0.0.1."""
    # The production settings, with static files and the database moved out of the checkout.
    (tmp_path / "prod_settings.py").write_text(
        '"""Production settings, static files collected under this folder."""\n\n'
        "from __future__ import annotations\n\n"
        "from adminsite.settings import *  # noqa: F403\n\n"
        f"STATIC_ROOT = {str(tmp_path / 'static')!r}\n"
    )
    env = production_env(
        DJANGO_SETTINGS_MODULE="prod_settings",
        PYTHONPATH=f"{tmp_path}{os.pathsep}{ROOT}",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        # Auth0 unreachable (nothing listens there): pages must still answer, with a message.
        AUTH0_DOMAIN=f"http://127.0.0.1:{_free_port()}",
        SSO_USER_HEADER="X-Forwarded-Email",
        SSO_GROUPS_HEADER="X-Forwarded-Groups",
        SSO_OPERATOR_GROUPS="orgdesk-operators",
        SSO_TRUSTED_PROXIES="127.0.0.1",
    )
    port = _free_port()
    # -o: the virtualenv is the one running these tests; never reinstall it from here.
    server = subprocess.Popen(
        ["make", "-o", ".venv/.app", "serve", "HOST=127.0.0.1", f"PORT={port}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # make and gunicorn in their own group, stopped together
    )
    base = f"http://127.0.0.1:{port}"
    host = {"Host": "orgdesk.example.com"}
    https = {**host, "X-Forwarded-Proto": "https"}
    alice = {**https, "X-Forwarded-Email": "alice@example.com"}
    try:
        for _ in range(600):
            try:
                health = requests.get(base + "/healthz", headers=host, timeout=2)
                break
            # Refused until gunicorn listens; slow while its workers boot on a busy machine.
            except (requests.ConnectionError, requests.Timeout):
                assert server.stdout is not None  # stdout=PIPE
                assert server.poll() is None, server.stdout.read()
                time.sleep(0.1)
        else:
            pytest.fail("make serve did not start gunicorn within a minute")
        # /healthz answers on plain http (no redirect) and calls nobody
        assert health.status_code == 200 and health.json() == {"status": "ok"}
        plain = requests.get(base + "/orgs/", headers=host, allow_redirects=False, timeout=5)
        assert plain.status_code == 301
        assert plain.headers["Location"] == "https://orgdesk.example.com/orgs/"

        refused = requests.get(base + "/orgs/", headers=https, timeout=5)
        assert refused.status_code == 403 and "did not say who you are" in refused.text
        assert "max-age=31536000" in refused.headers["Strict-Transport-Security"]
        assert "'unsafe" not in refused.headers["Content-Security-Policy"]
        assert refused.headers["X-Frame-Options"] == "DENY"
        # gunicorn drops header names with underscores: no back door around the dash spelling
        sneaky = {**https, "X_Forwarded_Email": "alice@example.com"}
        assert requests.get(base + "/orgs/", headers=sneaky, timeout=5).status_code == 403

        page = requests.get(
            base + "/orgs/", headers={**alice, "X-Forwarded-Groups": "orgdesk-operators"}
        )
        assert page.status_code == 200, page.text[:500]
        assert "alice@example.com · operator" in page.text
        assert "could not be reached (connection error)" in page.text
        assert "Secure" in page.headers["Set-Cookie"]  # the session cookie
        viewer = requests.get(base + "/orgs/", headers=alice, timeout=15)
        assert "alice@example.com · viewer" in viewer.text  # groups re-read on every request

        css = re.search(r'href="(/static/app\.[0-9a-f]{12}\.css)"', page.text)
        assert css, "the page links the hashed file from whitenoise's manifest"
        static = requests.get(
            base + css.group(1), headers={**https, "Accept-Encoding": "gzip"}, timeout=5
        )
        assert static.status_code == 200 and "text/css" in static.headers["Content-Type"]
        assert "immutable" in static.headers["Cache-Control"]
        assert static.headers.get("Content-Encoding") == "gzip"
        other_host = requests.get(base + "/orgs/", headers={**alice, "Host": "evil.example"})
        assert other_host.status_code == 400  # ALLOWED_HOSTS

        # people's data is never stored; whitenoise's static files keep their own caching
        for answer in (page, viewer, refused, health, other_host):
            assert answer.headers["Cache-Control"] == "no-store", answer.url
        assert "no-store" not in static.headers["Cache-Control"]

        # gunicorn.conf.py's limits, before Django: an over-long request line, too many headers
        host_line = b"Host: orgdesk.example.com\r\n"
        long_line = b"GET /orgs/?q=" + b"a" * 5000 + b" HTTP/1.1\r\n" + host_line + b"\r\n"
        assert raw_request(port, long_line).split(" ")[1] in ("400", "414")
        many = b"".join(b"X-Extra-%d: 1\r\n" % i for i in range(80))
        too_many = b"GET /healthz HTTP/1.1\r\n" + host_line + many + b"\r\n"
        assert raw_request(port, too_many).split(" ")[1] in ("400", "431")
        fine = b"GET /healthz HTTP/1.1\r\n" + host_line + b"Connection: close\r\n\r\n"
        assert raw_request(port, fine) == "HTTP/1.1 200 OK"  # the control: a normal request
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        output = server.communicate(timeout=30)[0]
    assert output.count("Booting worker") == 2, output
    assert "Using worker: gthread" in output
    assert '"GET /healthz HTTP/1.1" 200' in output  # the access log, on stdout
    assert env["AUTH0_CLIENT_SECRET"] not in output and env["SECRET_KEY"] not in output
