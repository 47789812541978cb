"""Production settings and serving: secure cookies and HSTS, `check --deploy`, start-up refusals,
and gunicorn + whitenoise as `make serve` runs them (each in its own process).
"""

from __future__ import annotations

import os
import re
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


# A shared cache, as production needs (adminsite.W001); `check` never connects to it.
SHARED_CACHE = "redis://127.0.0.1:6379/0"

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
    result = run_python(CHECK_DEPLOY, production_env(CACHE_URL=SHARED_CACHE, **extra))
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("extra", "warning"),
    [
        ({"SECURE_SSL_REDIRECT": "false"}, "security.W008"),
        ({"SECRET_KEY": "short-and-guessable"}, "security.W009"),
        ({"SECURE_HSTS_SECONDS": "0"}, "security.W004"),
        ({"CACHE_URL": "locmemcache://"}, "adminsite.W001"),
    ],
)
def test_check_deploy_would_catch_a_weakened_setting(extra: dict[str, str], warning: str) -> None:
    """Control: the check above is not vacuous."""
    result = run_python(CHECK_DEPLOY, production_env(**{"CACHE_URL": SHARED_CACHE, **extra}))
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
    assert (config["workers"], config["threads"]) == ("2", "4")
    assert config["worker_class"] == "adminsite.gunicorn_worker.ThreadWorker"
    assert (config["timeout"], config["graceful_timeout"], config["keepalive"]) == ("60", "30", "5")
    assert config["limit_request_line"] == "4094"
    assert config["limit_request_fields"] == "64"
    assert config["limit_request_field_size"] == "16384"
    # Org Desk's own line per request (orgdesk.request) is the access log; gunicorn's on request
    assert config["accesslog"] == "None"
    assert gunicorn_config(GUNICORN_ACCESS_LOG="-")["accesslog"] == "-"
    assert "%(U)s" in config["access_log_format"]
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
    assert "Using worker: adminsite.gunicorn_worker.ThreadWorker" in output
    assert "orgdesk.request GET healthz /healthz 200" in output  # one line a request
    assert '"GET /healthz HTTP/1.1" 200' not in output  # and not gunicorn's second one
    assert env["AUTH0_CLIENT_SECRET"] not in output and env["SECRET_KEY"] not in output


# --- docs/deploy.md works as written ------------------------------------------------------------
#
# Every command in a ```sh block of the guide is either run here (in a sandbox: a temporary
# folder stands in for /etc and /srv/org-desk, a throwaway PostgreSQL for Debian's cluster, a
# throwaway Redis for Debian's, the sandbox tenant over HTTP for Auth0) or listed with what
# checks it instead. A command the guide gains that is in neither list fails the suite.

GUIDE = ROOT / "docs" / "deploy.md"
UNITS = ROOT / "docs" / "systemd"
APP = "/srv/org-desk/app"

GUNICORN = ".venv/bin/gunicorn -c gunicorn.conf.py adminsite.wsgi"
MAKE_SERVE = "make serve's recipe (checked below), run by the make serve test"
# Commands that need the real machine (a booted systemd, root on the host, the network), each
# with what checks it instead.
CHECKED: dict[str, str] = {
    "apt-get update": "changes the machine's package lists; `make test` (system-deps) runs it",
    "adduser --system --group --home /srv/org-desk org-desk": (
        "creates a user on the machine; the user, group and home are the units' (checked)"
    ),
    "install -d -o root -g org-desk -m 750 /etc/org-desk": (
        "run without -o/-g (no org-desk group here); the owner is the units' group (checked)"
    ),
    "sudo -u org-desk git clone https://git.example.com/support/org-desk.git app": (
        "the URL is yours; the clone is this checkout, which every other command runs from"
    ),
    "sudo -u org-desk git pull --ff-only": "updates the clone: yours",
    "chown root:org-desk /etc/org-desk/env": "no org-desk group here; the units' Group (checked)",
    "systemctl daemon-reload": "needs a booted systemd; the units pass systemd-analyze verify",
    "systemctl enable --now org-desk-oauth2-proxy": (
        "oauth2-proxy is not installed here; its unit passes systemd-analyze verify"
    ),
    "nginx -t": "nginx is not installed here; its upstreams are the instances' ports (checked)",
    "systemctl reload nginx": "needs a booted systemd and nginx",
    "journalctl -u 'org-desk@*' -f": "needs a booted systemd; the units log to the journal",
    "journalctl -u org-desk-verify-audit": "needs a booted systemd",
    "make serve HOST=10.0.3.10 PORT=8000": (
        "test_make_serve_runs_gunicorn_with_whitenoise_behind_sso runs make serve"
    ),
    ".venv/bin/python manage.py collectstatic --noinput": MAKE_SERVE,
    ".venv/bin/python manage.py migrate --noinput": MAKE_SERVE,
    f"GUNICORN_BIND=10.0.3.10:8000 {GUNICORN}": MAKE_SERVE,
}


def guide_commands(text: str | None = None) -> list[str]:
    """The commands of the guide's ```sh blocks, one per logical line, comments dropped."""
    text = GUIDE.read_text() if text is None else text
    commands = []
    for block in re.findall(r"^```sh\n(.*?)^```", text, re.M | re.S):
        pending = ""
        for line in block.splitlines():
            line = re.sub(r"\s+#\s.*$", "", line).rstrip()
            if line.endswith("\\"):
                pending += line[:-1].strip() + " "
                continue
            line = (pending + line.strip()).strip()
            pending = ""
            if line and not line.startswith("#"):
                commands.append(line)
    return commands


def guide_env_file() -> dict[str, str]:
    """The guide's /etc/org-desk/env, parsed as systemd's EnvironmentFile= reads it."""
    text = GUIDE.read_text()
    block = re.search(r"^```ini\n(# /etc/org-desk/env.*?)^```", text, re.M | re.S)
    assert block, "the guide shows /etc/org-desk/env in an ```ini block"
    env = {}
    for line in block.group(1).splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, sep, value = line.partition("=")
            assert sep and re.fullmatch(r"[A-Z][A-Z0-9_]*", name), line
            env[name] = value
    return env


def unit(name: str) -> dict[str, list[str]]:
    """A unit file's settings (`Key` → values in order), sections flattened."""
    settings: dict[str, list[str]] = {}
    for line in (UNITS / name).read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, _, value = line.partition("=")
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def test_every_command_of_the_guide_is_run_or_checked() -> None:
    commands = guide_commands()
    assert len(commands) > 30
    unknown = uncovered(commands)
    assert not unknown, f"commands in docs/deploy.md that no test runs or checks: {unknown}"
    # the control: a command the guide might gain, and a changed one, are caught
    assert uncovered([*commands, "systemctl restart org-desk-worker"]) == [
        "systemctl restart org-desk-worker"
    ]
    assert uncovered(["sudo -u org-desk .venv/bin/python manage.py flush --noinput; rm -rf /"])
    stale = [c for c in CHECKED if c not in commands]
    assert not stale, f"listed as checked but no longer in the guide: {stale}"
    # the extraction itself: continuation lines, comments, several blocks
    sample = "```sh\na \\\n  b  # note\n# only a comment\nc\n```\ntext\n```sh\nd\n```\n"
    assert guide_commands(sample) == ["a b", "c", "d"]


def test_the_units_and_configs_agree_with_the_guide() -> None:
    """What the commands that cannot run here would do is consistent with what does run."""
    commands = guide_commands()
    instance = unit("org-desk@.service")
    audit = unit("org-desk-verify-audit.service")
    for settings in (instance, audit):
        assert settings["User"] == settings["Group"] == ["org-desk"]  # adduser --group org-desk
        assert settings["WorkingDirectory"] == [APP]  # git clone … into /srv/org-desk/app
        assert settings["EnvironmentFile"] == ["/etc/org-desk/env"]  # install -d /etc/org-desk
    assert instance["Environment"] == ["GUNICORN_BIND=127.0.0.1:%i"]
    assert "GUNICORN_BIND" not in guide_env_file()  # it would override every instance's port
    assert unit("org-desk-verify-audit.timer")["OnCalendar"]
    # the two instances of `systemctl enable --now` are nginx's upstream servers
    enable = next(c for c in commands if c.startswith("systemctl enable --now org-desk@"))
    ports = sorted(re.findall(r"org-desk@(\d+)", enable))
    nginx = (ROOT / "docs" / "nginx" / "org-desk.conf").read_text()
    assert sorted(re.findall(r"server 127\.0\.0\.1:(\d+)", nginx)) == ports == ["8001", "8002"]
    assert "127.0.0.1:4180" in nginx
    proxy_cfg = (ROOT / "docs" / "oauth2-proxy" / "oauth2-proxy.cfg").read_text()
    assert 'http_address = "127.0.0.1:4180"' in proxy_cfg
    assert (
        "--config /etc/oauth2-proxy/org-desk.cfg"
        in unit("org-desk-oauth2-proxy.service")["ExecStart"][0]
    )
    cfg = "/srv/org-desk/app/docs/oauth2-proxy/oauth2-proxy.cfg /etc/oauth2-proxy/org-desk.cfg"
    assert f"cp {cfg}" in commands
    # nginx sets exactly the headers Org Desk reads, from 127.0.0.1, which the env file trusts
    env = guide_env_file()
    assert f"proxy_set_header {env['SSO_USER_HEADER']}  $email;" in nginx
    assert f"proxy_set_header {env['SSO_GROUPS_HEADER']} $groups;" in nginx
    assert env["SSO_TRUSTED_PROXIES"] == "127.0.0.1"
    # make serve runs the three commands the guide shows for it (with -v 0)
    makefile = (ROOT / "Makefile").read_text()
    recipe = makefile[makefile.index("\nserve:") :].split("\n\n", 1)[0]
    assert "manage.py collectstatic --noinput" in recipe
    assert "manage.py migrate --noinput" in recipe
    assert "GUNICORN_BIND=$(HOST):$(PORT)" in recipe
    assert "gunicorn -c gunicorn.conf.py adminsite.wsgi" in recipe


# --- Running the guide's commands in a sandbox ---------------------------------------------------


class GuideRun:
    """What the guide's commands need: paths mapped into a temporary folder, a throwaway
    PostgreSQL and Redis, the sandbox tenant over HTTP; and what they made (env, instances)."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.cwd = tmp
        self.env_file: dict[str, str] = {}
        self.secret_key = ""
        self.instances: dict[str, subprocess.Popen[bytes]] = {}
        self.ports: dict[str, int] = {}
        self.notify: dict[str, socket.socket] = {}
        self.cluster: Any = None
        self.redis_port = 0
        self.sandbox_url = ""
        self.processes: list[subprocess.Popen[bytes]] = []
        self.log: list[str] = []

    def path(self, path: str) -> str:
        """/srv/org-desk/app is this checkout; /etc and /srv elsewhere, the temporary folder."""
        if path == APP or path.startswith(APP + "/docs/"):
            return str(ROOT) + path[len(APP) :]
        if path.startswith(("/etc/", "/srv/")):
            return str(self.tmp) + path
        return path

    def paths(self, command: str) -> str:
        return re.sub(r"(/etc/\S+|/srv/org-desk\S*)", lambda m: self.path(m.group(1)), command)

    def app_env(self) -> dict[str, str]:
        """The process environment of the units: the guide's env file, with this sandbox's
        database, cache, tenant and the key made by the guide's command."""
        assert self.cluster is not None and self.sandbox_url
        env = {
            k: v
            for k, v in os.environ.items()
            if k in ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "PYTHONPATH")
        }
        env.update(self.env_file)
        database = self.env_file["DATABASE_URL"]  # the guide's role and password
        env["DATABASE_URL"] = database.replace("127.0.0.1:5432", f"127.0.0.1:{self.cluster.port}")
        env["CACHE_URL"] = self.env_file["CACHE_URL"].replace(":6379", f":{self.redis_port}")
        env["SECRET_KEY"] = self.secret_key
        env["AUTH0_DOMAIN"] = self.sandbox_url
        env["AUTH0_CLIENT_ID"], env["AUTH0_CLIENT_SECRET"] = "org-desk-sandbox", "sandbox-secret"
        return env


def uncovered(commands: list[str]) -> list[str]:
    """The commands no test runs and none checks."""
    return [c for c in commands if c not in CHECKED and not runnable(c)]


def runnable(command: str) -> bool:
    return any(re.fullmatch(pattern, command) for pattern, _ in HANDLERS)


def _run(argv: list[str] | str, run: GuideRun, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        argv,
        cwd=kwargs.pop("cwd", run.cwd),
        capture_output=True,
        text=True,
        timeout=120,
        shell=isinstance(argv, str),
        **kwargs,
    )
    assert result.returncode == 0, f"{argv}: {result.stdout}{result.stderr}"
    return result


def _apt_install(command: str, run: GuideRun) -> None:
    """Simulated (-s): every package exists in Debian's archive and installs together."""
    if not list(Path("/var/lib/apt/lists").glob("*Packages*")):
        run.log.append(f"skipped (no apt lists): {command}")
        return
    _run(command.replace("apt-get install -y", "apt-get install -s -y", 1), run)


def _cd(command: str, run: GuideRun) -> None:
    target = command.split(None, 1)[1]
    run.cwd = Path(run.path(target))
    run.cwd.mkdir(parents=True, exist_ok=True)


def _as_postgres(command: str, run: GuideRun) -> None:
    """Debian's `sudo -u postgres` superuser is the throwaway cluster's postgres role."""
    program, *args = shlex.split(command.removeprefix("sudo -u postgres "))
    server = ["-h", "127.0.0.1", "-p", str(run.cluster.port), "-U", "postgres"]
    _run([os.path.join(run.cluster.bindir, program), *server, *args], run)


def _redis_ping(command: str, run: GuideRun) -> None:
    out = _run([*shlex.split(command)[:1], "-p", str(run.redis_port), "ping"], run)
    assert out.stdout.strip() == "PONG"


def _secret_key(command: str, run: GuideRun) -> None:
    argv = shlex.split(command)
    argv[0] = sys.executable  # python3 of the machine; the key needs only the standard library
    run.secret_key = _run(argv, run).stdout.strip()
    assert len(run.secret_key) >= 50


def _chmod(command: str, run: GuideRun) -> None:
    path = Path(run.path(command.split()[-1]))
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():  # the file the guide asks to write, as it shows it
        path.write_text("".join(f"{k}={v}\n" for k, v in run.env_file.items()))
    _run(["chmod", command.split()[1], str(path)], run)
    assert oct(path.stat().st_mode & 0o777) == "0o640"


def _install_dir(command: str, run: GuideRun) -> None:
    argv = shlex.split(command)
    mode = argv[argv.index("-m") + 1]
    _run(["install", "-d", "-m", mode, run.path(argv[-1])], run)


def _copy_or_link(command: str, run: GuideRun) -> None:
    argv = shlex.split(command)
    source, target = argv[-2:]
    folder = Path(run.path(target)) if target.endswith("/") else Path(run.path(target)).parent
    folder.mkdir(parents=True, exist_ok=True)
    _run([*argv[:-2], run.path(source), run.path(target)], run)


def _make_install(command: str, run: GuideRun) -> None:
    """A dry run: the virtualenv running these tests is the one it would make."""
    _run(["make", "-n", "install"], run, cwd=ROOT)


def _manage(command: str, run: GuideRun) -> None:
    argv = shlex.split(command.removeprefix("sudo -u org-desk "))
    assert argv[0] == ".venv/bin/python"
    out = _run([sys.executable, *argv[1:]], run, cwd=ROOT, env=run.app_env())
    if "check" in argv:
        assert "System check identified no issues" in out.stdout + out.stderr


def _unit_command(name: str, run: GuideRun, instance: str = "") -> tuple[list[str], dict[str, str]]:
    """A unit's ExecStart, as systemd would run it for `instance` (%i), in the sandbox."""
    settings = unit(name)
    env = run.app_env()
    for assignment in settings.get("Environment", []):
        key, _, value = assignment.partition("=")
        if key not in run.env_file:  # EnvironmentFile= wins over Environment= (systemd.exec(5))
            env[key] = value.replace("%i", instance)
    argv = shlex.split(settings["ExecStart"][0].replace("%i", instance))
    assert argv[0].startswith(APP + "/.venv/bin/")
    argv[0] = str(ROOT / argv[0][len(APP) + 1 :])
    if not Path(argv[0]).exists():  # a virtualenv without the script: the module
        argv = [sys.executable, "-m", Path(argv[0]).name, *argv[1:]]
    return argv, env


def _enable_instances(command: str, run: GuideRun) -> None:
    """`systemctl enable --now org-desk@8001 …`: each instance's ExecStart, on a free port
    instead of the guide's (8001 and 8002 may be taken on this machine)."""
    for name in re.findall(r"org-desk@(\d+)", command):
        port = _free_port()
        argv, env = _unit_command("org-desk@.service", run, str(port))
        assert env["GUNICORN_BIND"] == f"127.0.0.1:{port}"
        run.ports[name] = port
        # Type=notify: systemd's socket, on which gunicorn's master says READY=1 once it listens
        notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        notify.bind(str(run.tmp / f"notify-{name}"))
        notify.settimeout(60)
        run.notify[name] = notify
        env["NOTIFY_SOCKET"] = str(run.tmp / f"notify-{name}")
        run.instances[name] = subprocess.Popen(
            argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )


def _enable_timer(command: str, run: GuideRun) -> None:
    """The timer starts org-desk-verify-audit.service: its ExecStart, once."""
    argv, env = _unit_command("org-desk-verify-audit.service", run)
    result = _run(argv, run, cwd=ROOT, env=env)  # the guide's fresh database: an empty log
    assert "Checked 0 entries: the audit log is empty." in result.stdout, result.stdout


def _enable_jobs(command: str, run: GuideRun) -> None:
    """The jobs worker: its unit's ExecStart with the guide's environment starts, sweeps and
    waits for tasks (on the throwaway PostgreSQL), and stops cleanly on SIGTERM (systemd's)."""
    argv, env = _unit_command("org-desk-jobs.service", run)
    worker = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    time.sleep(3)
    assert worker.poll() is None, worker.communicate()[0]
    worker.send_signal(signal.SIGTERM)
    output = worker.communicate(timeout=30)[0]
    assert worker.returncode == 0, output


def _curl(command: str, run: GuideRun) -> None:
    for name, port in run.ports.items():
        command = command.replace(f"127.0.0.1:{name}/", f"127.0.0.1:{port}/")
    deadline = time.monotonic() + 60
    while True:
        result = subprocess.run(command, shell=True, capture_output=True, text=True, check=False)
        if result.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert result.returncode == 0, result.stderr
    assert result.stdout == '{"status": "ok"}' * len(run.ports)


def _reload(command: str, run: GuideRun) -> None:
    """`systemctl reload`: the unit's ExecReload, HUP to gunicorn's master."""
    assert unit("org-desk@.service")["ExecReload"] == ["/bin/kill -s HUP $MAINPID"]
    for name in re.findall(r"org-desk@(\d+)", command):
        run.instances[name].send_signal(signal.SIGHUP)


HANDLERS: list[tuple[str, Callable[[str, GuideRun], None]]] = [
    (r"apt-get install -y --no-install-recommends [a-z0-9 .-]+", _apt_install),
    (r"cd /srv/org-desk(/app)?", _cd),
    (r"sudo -u postgres (psql|createdb) .+", _as_postgres),
    (r"redis-cli ping", _redis_ping),
    (r"python3 -c \"import secrets; print\(secrets\.token_urlsafe\(\d+\)\)\"", _secret_key),
    (r"chmod 640 /etc/org-desk/env", _chmod),
    (r"install -d -m 750 /etc/\S+", _install_dir),
    (r"(cp|ln -s) /srv/org-desk/app/docs/\S+ /etc/\S+", _copy_or_link),
    (r"ln -s /etc/\S+ /(etc|srv)/\S+", _copy_or_link),
    (r"sudo -u org-desk make install", _make_install),
    (r"sudo -u org-desk \.venv/bin/python manage\.py [a-z-]+( --[a-z-]+( [A-Z]+)?)*", _manage),
    (r"systemctl enable --now( org-desk@\d+)+", _enable_instances),
    (r"systemctl enable --now org-desk-verify-audit\.timer", _enable_timer),
    (r"systemctl enable --now org-desk-jobs", _enable_jobs),
    (r"curl -fsS( http://127\.0\.0\.1:\d+/healthz)+", _curl),
    (r"systemctl reload( org-desk@\d+)+", _reload),
]


def _verify_units(run: GuideRun) -> None:
    """systemd-analyze verify on the units the guide installed, paths mapped into the sandbox
    (it checks that ExecStart's program exists); any warning fails."""
    if shutil.which("systemd-analyze") is None:
        run.log.append("skipped: systemd-analyze verify (no systemd here)")
        return
    folder = run.tmp / "verify"
    folder.mkdir()
    env_file = run.tmp / "etc" / "org-desk" / "env"
    installed = run.tmp / "etc" / "systemd" / "system"
    names = sorted(p.name for p in installed.iterdir())
    assert "org-desk@.service" in names and "org-desk-verify-audit.timer" in names
    for name in names:
        text = (installed / name).read_text()
        text = text.replace(APP, str(ROOT)).replace("/etc/org-desk/env", str(env_file))
        if not Path("/usr/local/bin/oauth2-proxy").exists():
            text = text.replace("/usr/local/bin/oauth2-proxy", shutil.which("true") or "/bin/true")
        text = re.sub(r"LoadCredential=.*\n", "", text)  # its files exist only on the host
        (folder / name.replace("@.service", "@8001.service")).write_text(text)
    result = subprocess.run(
        ["systemd-analyze", "verify", *sorted(str(p) for p in folder.iterdir())],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0 and not result.stderr.strip(), result.stderr


def test_the_guide_runs_as_written(tmp_path: Path) -> None:
    """Each runnable command of docs/deploy.md, in the guide's order, then the result: two
    instances from the unit's ExecStart with the guide's environment file, behind "nginx"
    (this test, on 127.0.0.1), sharing one session."""
    from tests import pgcluster
    from tests.deploy.stack import missing_binaries

    if missing := missing_binaries():
        pytest.skip(f"needs Debian's {' and '.join(missing)} (`make test` installs them)")
    run = GuideRun(tmp_path)
    run.env_file = guide_env_file()
    run.cluster = pgcluster.start(database="scratch")  # the guide creates its own database
    try:
        run.redis_port = _free_port()
        run.processes.append(
            subprocess.Popen(
                ["redis-server", "--port", str(run.redis_port), "--bind", "127.0.0.1"]
                + ["--save", "", "--appendonly", "no"],
                stdout=subprocess.DEVNULL,
            )
        )
        sandbox_port = _free_port()
        run.sandbox_url = f"http://127.0.0.1:{sandbox_port}"
        run.processes.append(
            subprocess.Popen(
                [sys.executable, "manage.py", "sandbox_api", "--port", str(sandbox_port)]
                + ["--organizations", "30", "--members", "20"],
                cwd=ROOT,
                env=production_env(),
                stdout=subprocess.DEVNULL,
            )
        )
        ran = []
        for command in guide_commands():
            handler = next((h for p, h in HANDLERS if re.fullmatch(p, command)), None)
            if handler is None:
                assert command in CHECKED, command
                continue
            handler(command, run)
            ran.append(command)
        _verify_units(run)

        # What it all made: two instances, each signing a person in from nginx's headers.
        assert set(run.ports) == {"8001", "8002"}
        for notify in run.notify.values():  # what Type=notify waits for
            assert b"READY=1" in notify.recv(4096)
        env = guide_env_file()
        proxy = {
            "Host": env["ALLOWED_HOSTS"].split(",")[0],
            "X-Forwarded-Proto": "https",
            env["SSO_USER_HEADER"]: "alice@example.com",
            env["SSO_GROUPS_HEADER"]: env["SSO_OPERATOR_GROUPS"],
        }
        alice = requests.Session()
        for name in ("8001", "8002", "8001"):
            page = alice.get(f"http://127.0.0.1:{run.ports[name]}/orgs/", headers=proxy)
            assert page.status_code == 200, page.text[:500]
            assert "alice@example.com · operator" in page.text
        assert len(ran) >= 20, ran
    finally:
        for p in [*run.instances.values(), *run.processes]:
            p.terminate()
        for p in [*run.instances.values(), *run.processes]:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
        pgcluster.stop(run.cluster)
        for notify in run.notify.values():
            notify.close()
    print("\n".join(run.log))


# --- Start-up does no heavy work ---------------------------------------------------------------

LOAD_APP = """
from adminsite.wsgi import application
from django.db import connections
import adminsite.sandbox as sandbox
print(connections["default"].connection is None, sandbox._default is None)
"""


def test_loading_the_app_touches_no_database_cache_or_auth0() -> None:
    """What gunicorn's worker does at boot (import adminsite.wsgi): no database connection, no
    cache, no Auth0 and no sandbox tenant seeded. Every one of them points at a port where
    nothing listens, so any call at import would fail the import (or show up below)."""
    dead = _free_port()
    env = production_env(
        DATABASE_URL=f"postgres://orgdesk@127.0.0.1:{dead}/orgdesk",
        CACHE_URL=f"redis://127.0.0.1:{dead}/0",
        AUTH0_DOMAIN=f"http://127.0.0.1:{dead}",
    )
    result = run_python(LOAD_APP, env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "True"]  # no connection made, no tenant built
