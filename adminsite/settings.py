"""Org Desk settings: one file, read from the environment (and `.env` when present).

Every variable is listed in `.env.example` and in the README's configuration section.
"""

from __future__ import annotations

import ipaddress
import re
import sys
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from adminsite import ops_config, sso_config
from adminsite.sandbox import SANDBOX_BASE_URL

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")  # a missing .env is fine

DEBUG = env.bool("DEBUG", default=False)

if DEBUG:
    SECRET_KEY = env("SECRET_KEY", default="dev-only-insecure-secret-key-do-not-deploy")
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
else:
    SECRET_KEY = env("SECRET_KEY", default="")
    ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])
    if not SECRET_KEY and sys.argv[1:2] == ["sandbox_api"]:
        SECRET_KEY = "sandbox-api-serves-no-django-pages"  # the fake tenant signs nothing
    if not SECRET_KEY:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off (see .env.example).")


# --- Auth0 Management API -------------------------------------------------------------------


def _auth0_base_url(domain: str) -> str:
    """Turn AUTH0_DOMAIN into a base URL; a plain-http URL is accepted for loopback hosts only."""
    if "://" not in domain:
        domain = f"https://{domain}"
    parts = urlsplit(domain)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ImproperlyConfigured(f"AUTH0_DOMAIN is not a domain or URL: {domain!r}")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ImproperlyConfigured("AUTH0_DOMAIN must be a bare domain such as acme.eu.auth0.com.")
    if parts.scheme == "http":
        try:
            loopback = ipaddress.ip_address(parts.hostname).is_loopback
        except ValueError:
            loopback = parts.hostname == "localhost"
        if not loopback:
            raise ImproperlyConfigured("AUTH0_DOMAIN may use http:// only for loopback hosts.")
    return f"{parts.scheme}://{parts.netloc}"


AUTH0_DOMAIN = env("AUTH0_DOMAIN", default="")
# The sandbox's organizations and people are fake: with DEBUG off it is served only when asked
# for by name, so a production start-up that lost AUTH0_DOMAIN stops instead of showing them.
_SANDBOX_ASKED = env.bool("AUTH0_SANDBOX", default=False)
if AUTH0_DOMAIN and _SANDBOX_ASKED:
    raise ImproperlyConfigured(
        "AUTH0_SANDBOX=true and AUTH0_DOMAIN are both set: Org Desk cannot serve the sandbox "
        "tenant and a real one. Unset AUTH0_SANDBOX to manage the tenant in AUTH0_DOMAIN."
    )
AUTH0_SANDBOX = not AUTH0_DOMAIN
# `manage.py sandbox_api` serves a fresh fake tenant of its own and no Org Desk page.
if AUTH0_SANDBOX and not (DEBUG or _SANDBOX_ASKED or sys.argv[1:2] == ["sandbox_api"]):
    raise ImproperlyConfigured(
        "AUTH0_DOMAIN is not set and DEBUG is off: Org Desk would serve the sandbox tenant's "
        "fake organizations and people. Set AUTH0_DOMAIN, AUTH0_CLIENT_ID and "
        "AUTH0_CLIENT_SECRET for a real tenant, or AUTH0_SANDBOX=true to serve the sandbox on "
        "purpose (demos). See .env.example."
    )
if AUTH0_SANDBOX:
    # The embedded sandbox tenant (adminsite/sandbox), reached through the same client code path.
    # SANDBOX_URL (loopback only): the sandbox served over HTTP by `manage.py sandbox_api`, so
    # that the web server and the jobs worker (another process) see one tenant; `manage.py
    # run_with_worker` (make run) sets it.
    _SANDBOX_URL = env("SANDBOX_URL", default="")
    AUTH0_BASE_URL = _auth0_base_url(_SANDBOX_URL) if _SANDBOX_URL else SANDBOX_BASE_URL
    if _SANDBOX_URL and not AUTH0_BASE_URL.startswith("http://"):
        raise ImproperlyConfigured("SANDBOX_URL must be http://127.0.0.1:PORT (sandbox_api).")
    AUTH0_CLIENT_ID = env("AUTH0_CLIENT_ID", default="org-desk-sandbox")
    AUTH0_CLIENT_SECRET = env("AUTH0_CLIENT_SECRET", default="sandbox-secret")
else:
    AUTH0_BASE_URL = _auth0_base_url(AUTH0_DOMAIN)
    AUTH0_CLIENT_ID = env("AUTH0_CLIENT_ID", default="")
    AUTH0_CLIENT_SECRET = env("AUTH0_CLIENT_SECRET", default="")
    if not (AUTH0_CLIENT_ID and AUTH0_CLIENT_SECRET):
        raise ImproperlyConfigured(
            "AUTH0_CLIENT_ID and AUTH0_CLIENT_SECRET are required with AUTH0_DOMAIN."
        )
AUTH0_AUDIENCE = env("AUTH0_AUDIENCE", default=f"{AUTH0_BASE_URL}/api/v2/")
AUTH0_TIMEOUT = env.float("AUTH0_TIMEOUT", default=10.0)
# Invitations (orgs/invitations.py): the application an invitation opens. Set, Org Desk offers
# only this one and needs no scope to list applications; unset, the invite form lists the
# tenant's applications that accept invitations (GET /clients: read:clients or
# read:client_summary).
AUTH0_INVITE_CLIENT_ID = env("AUTH0_INVITE_CLIENT_ID", default="")
if AUTH0_INVITE_CLIENT_ID and not re.fullmatch(r"[A-Za-z0-9_-]{1,128}", AUTH0_INVITE_CLIENT_ID):
    raise ImproperlyConfigured(
        "AUTH0_INVITE_CLIENT_ID is not an Auth0 application (client) id: letters, digits, "
        "'_' and '-' only (Auth0 Dashboard → Applications → the application → Client ID)."
    )

# Size and speed of the embedded sandbox tenant (ignored with a real AUTH0_DOMAIN).
SANDBOX_ORGANIZATIONS = env.int("SANDBOX_ORGANIZATIONS", default=1200)
SANDBOX_BIG_ORG_MEMBERS = env.int("SANDBOX_BIG_ORG_MEMBERS", default=1200)
SANDBOX_LATENCY = env.float("SANDBOX_LATENCY", default=0.0)


# --- Django ---------------------------------------------------------------------------------

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "adminsite",
    "adminsite.audit",
    "adminsite.sandbox",
    "adminsite.jobs",
    "django_tasks_db",
    "orgs",
    "connections",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # After whitenoise (static files keep their caching), before everything else: whatever
    # Django answers, error pages included, is never stored by a browser or a proxy.
    "adminsite.middleware.NoStoreMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "adminsite.middleware.UpstreamTimingMiddleware",
    "adminsite.middleware.HtmxMessagesMiddleware",
]

ROOT_URLCONF = "adminsite.urls"
WSGI_APPLICATION = "adminsite.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "adminsite.context_processors.org_desk",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # SQLite has no row locks: a transaction takes the write lock at BEGIN, so a
    # check-then-write (one restore per removal) cannot be passed by two requests at once.
    DATABASES["default"].setdefault("OPTIONS", {})["transaction_mode"] = "IMMEDIATE"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
CACHES = {"default": env.cache_url("CACHE_URL", default="locmemcache://org-desk")}

# --- Per-request work: database connections and sessions (docs/deploy.md) -------------------
# A connection is kept for DB_CONN_MAX_AGE seconds and reused by the next requests of the same
# thread, instead of a new one (and its TimeZone set-up) per request; Django checks that a
# kept connection still works before reusing it, so a database restart costs no error page.
# Default 60 s on PostgreSQL, 0 (a connection per request) on SQLite, where opening is cheap.
_DB_ENGINE = DATABASES["default"]["ENGINE"]
DATABASES["default"]["CONN_MAX_AGE"] = env.int(
    "DB_CONN_MAX_AGE", default=0 if _DB_ENGINE == "django.db.backends.sqlite3" else 60
)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# On PostgreSQL that check looks at the kept connection's socket and asks the server only when
# the server has spoken since (adminsite/postgresql): no `SELECT 1` round trip per request.
if _DB_ENGINE == "django.db.backends.postgresql":
    DATABASES["default"]["ENGINE"] = "adminsite.postgresql"
# Redis through Django's backend, with its redis-py clients kept instead of one built per call
# (adminsite/cache.py).
if CACHES["default"]["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
    CACHES["default"]["BACKEND"] = "adminsite.cache.Cache"
# Sessions: with a cache every instance shares (CACHE_URL=redis://, memcached), read from the
# cache and written to both it and the database (cached_db): no query per request, and a
# session outlives a flushed or restarted cache. With a cache of this process only (the local
# memory default), from the database: another worker would read a session it changed stale.
_SHARED_CACHE = not CACHES["default"]["BACKEND"].endswith(("LocMemCache", "DummyCache"))
# (adminsite.sessions is cached_db whose read can share a round trip with the user's: sso.py)
SESSION_ENGINE = "adminsite.sessions" if _SHARED_CACHE else "django.contrib.sessions.backends.db"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "orgs:list"
LOGOUT_REDIRECT_URL = "login"


# --- SSO by trusted headers (adminsite/sso.py; docs/deploy.md) ------------------------------
# With SSO_USER_HEADER set, the SSO proxy in front of Org Desk signs people in: its headers are
# believed only from SSO_TRUSTED_PROXIES, and Django's login form stops being a way in.
# Operators: anyone in one of SSO_OPERATOR_GROUPS (re-read on every request), and superusers.
SSO_USER_HEADER = env("SSO_USER_HEADER", default="")
SSO_GROUPS_HEADER = env("SSO_GROUPS_HEADER", default="")
SSO_OPERATOR_GROUPS = env.list("SSO_OPERATOR_GROUPS", default=[])
SSO_TRUSTED_PROXIES = env.list("SSO_TRUSTED_PROXIES", default=[])
SSO_LOGOUT_URL = env("SSO_LOGOUT_URL", default="")  # the proxy's sign-out, e.g. /oauth2/sign_out
# Check now, so a mistake stops start-up with a clear message (ImproperlyConfigured).
sso_config.parse(
    SSO_USER_HEADER, SSO_GROUPS_HEADER, SSO_OPERATOR_GROUPS, SSO_TRUSTED_PROXIES, SSO_LOGOUT_URL
)
# Both backends stand aside by themselves: passwords are refused while SSO is on, the proxy's
# header is ignored while it is off.
AUTHENTICATION_BACKENDS = ["adminsite.sso.PasswordBackend", "adminsite.sso.SSOBackend"]
# Right after AuthenticationMiddleware (it needs request.user), before LoginRequiredMiddleware
# (behind the proxy a request that is not signed in gets a 403 page, not the login form).
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.contrib.auth.middleware.AuthenticationMiddleware") + 1,
    "adminsite.sso.SSOMiddleware",
)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# No inline script anywhere: htmx is loaded from static/ with a nonce, its indicator styles
# are off (they would be an inline <style>), and hx-on/eval are disabled in its config.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF],
    # Only Org Desk's own files (the favicon, the admin's icons): no page shows a picture
    # from elsewhere, so a member's picture URL can never make the browser call out.
    "img-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "object-src": [CSP.NONE],
}
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
if not DEBUG:
    SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=True)
    CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    # Plain http is redirected to https (the proxy says which it was: X-Forwarded-Proto),
    # except the health check, which load balancers call on the private address.
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "adminsite": {"level": env("LOG_LEVEL", default="INFO")},
        # Never DEBUG for urllib3: it would log request lines of the token endpoint.
        "urllib3": {"level": "WARNING"},
    },
}
CSRF_FAILURE_VIEW = "adminsite.views.csrf_failure"

# --- The audit log's JSON lines (adminsite.audit): one per sealed entry, for a SIEM -----------
# The message is the JSON line itself. Standard error by default; AUDIT_LOG_FILE: a file,
# reopened when logrotate moves it (WatchedFileHandler). Never propagated to other handlers.
from typing import Any  # noqa: E402  (this block's own, kept with it)

AUDIT_LOG_FILE = env("AUDIT_LOG_FILE", default="")
_audit_logging: dict[str, Any] = LOGGING
_audit_logging.setdefault("formatters", {})["orgdesk_audit"] = {"format": "%(message)s"}
_audit_logging.setdefault("handlers", {})["orgdesk_audit"] = (
    {
        "class": "logging.handlers.WatchedFileHandler",
        "filename": AUDIT_LOG_FILE,
        "formatter": "orgdesk_audit",
    }
    if AUDIT_LOG_FILE
    else {"class": "logging.StreamHandler", "formatter": "orgdesk_audit"}
)
_audit_logging.setdefault("loggers", {})["orgdesk.audit"] = {
    "handlers": ["orgdesk_audit"],
    "level": "INFO",
    "propagate": False,
}


# --- Metrics and logs (adminsite/metrics.py, RequestLogMiddleware; docs/deploy.md) ----------
# /metrics answers only these addresses (IPs or CIDR networks, the peer as gunicorn sees it)
# or `Authorization: Bearer <METRICS_TOKEN>`; both unset: nobody (404).
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=[])
METRICS_TOKEN = env("METRICS_TOKEN", default="")
ops_config.check_metrics(METRICS_ALLOWED_IPS, METRICS_TOKEN)
# First: what a request leaves for after its answer (its audit seals, cache bookkeeping, its log
# line) is done once the answer has been sent, or before it leaves when it is a redirect
# (adminsite/afteranswer.py). It changes no answer.
MIDDLEWARE.insert(0, "adminsite.afteranswer.AfterAnswerMiddleware")
# Second: it measures every answer, redirects and refusals by earlier middleware included, and
# logs it once the answer is out.
MIDDLEWARE.insert(1, "adminsite.middleware.RequestLogMiddleware")
# Shared indexes read once per request (adminsite/memo.py).
MIDDLEWARE.insert(2, "adminsite.memo.RequestMemoMiddleware")
if not DEBUG:
    # Prometheus and load balancers call these on the private address, over plain http.
    SECURE_REDIRECT_EXEMPT = [*SECURE_REDIRECT_EXEMPT, r"^readyz$", r"^metrics$"]
# text (default) or json: one JSON object per line on stderr, for every logger.
LOG_FORMAT = ops_config.log_format(env("LOG_FORMAT", default="text"))
LOGGING = ops_config.logging_config(LOGGING, LOG_FORMAT, env("LOG_LEVEL", default="INFO"))


# --- Background jobs (adminsite/jobs: bulk member changes and exports; docs/deploy.md) --------
# Django's tasks framework with django-tasks-db's database backend: jobs are rows in the same
# database, run by `manage.py jobs_worker` (db_worker plus Org Desk's start-up sweep). Works on
# SQLite (one machine) and on PostgreSQL, where several machines' workers share the queue
# (each claims a task with SELECT ... FOR UPDATE SKIP LOCKED).
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default", "jobs"]}}
# Exports (one CSV per job, in the database: adminsite/jobs/export.py) are deleted EXPORT_TTL
# seconds after they are done.
EXPORT_TTL = env.int("EXPORT_TTL", default=24 * 3600)
# Auth0's published limits per endpoint group (burst, requests per minute) that jobs pace by;
# a job leaves JOBS_PAGE_RESERVE requests of a group's burst for people using the pages.
JOBS_RATE_LIMITS: dict[str, tuple[int, int]] = {
    "member_roles": (20, 200),
    "members_write": (20, 200),
    "members_read": (40, 500),
}
# A tenant with other limits (another plan, a custom policy): e.g.
# JOBS_RATE_LIMITS=member_roles=50/1000,members_read=100/2000
for _group, _, _limit in (
    item.partition("=") for item in env.list("JOBS_RATE_LIMITS", default=[]) if item.strip()
):
    _burst, _, _per_minute = _limit.partition("/")
    if _group.strip() not in JOBS_RATE_LIMITS or not (_burst.isdigit() and _per_minute.isdigit()):
        raise ImproperlyConfigured(
            f"JOBS_RATE_LIMITS: {_group}={_limit} is not GROUP=BURST/PER_MINUTE"
        )
    JOBS_RATE_LIMITS[_group.strip()] = (int(_burst), int(_per_minute))
JOBS_PAGE_RESERVE = env.int("JOBS_PAGE_RESERVE", default=5)
