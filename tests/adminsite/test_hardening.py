"""Hardening: CSP without inline script, framing, no page stored by a browser or a proxy,
/healthz, and no secret in any page or log line whatever the upstream does.
"""

from __future__ import annotations

import contextlib
import logging
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import NoReverseMatch, reverse

from adminsite import auth0
from tests.helpers import HTMX, api_calls, org_id

ROOT = Path(__file__).resolve().parents[2]
SECRET = "sandbox-secret"

pytestmark = pytest.mark.django_db

# --- Content Security Policy and the pages' HTML ---------------------------------------------


def csp_directives(header: str) -> dict[str, list[str]]:
    directives: dict[str, list[str]] = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


class InlineCode(HTMLParser):
    """Everything a strict CSP would block, or that would need 'unsafe-inline' to work."""

    def __init__(self) -> None:
        super().__init__()
        self.problems: list[str] = []
        self.script_nonces: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag == "script":
            self.script_nonces.append(names.get("nonce"))
            if not names.get("src"):
                self.problems.append("inline <script>")
        if tag == "style":
            self.problems.append("<style> element")
        for name, value in attrs:
            if name == "style":
                self.problems.append(f"style attribute on <{tag}>")
            if name.startswith("on") or name.startswith("hx-on"):
                self.problems.append(f"{name} handler on <{tag}>")
            if name in ("href", "src", "action", "formaction") and (
                value or ""
            ).strip().lower().startswith("javascript:"):
                self.problems.append(f"javascript: URL on <{tag}>")


def check_strict(response) -> None:
    """The response carries the strict policy, and its HTML needs nothing the policy forbids."""
    header = response["Content-Security-Policy"]
    directives = csp_directives(header)
    assert "unsafe" not in header and "*" not in header and "data:" not in directives["script-src"]
    assert directives["default-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["object-src"] == directives["base-uri"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["form-action"] == ["'self'"]
    # 'self' plus this response's nonce, when the response uses one (htmx parts do not)
    script_src = directives["script-src"]
    assert script_src[0] == "'self'" and len(script_src) <= 2
    nonce = re.fullmatch(r"'nonce-([A-Za-z0-9_+/=-]{16,})'", script_src[-1])
    assert nonce or script_src == ["'self'"], script_src
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    parser = InlineCode()
    parser.feed(response.content.decode())
    assert parser.problems == []
    if parser.script_nonces:
        assert nonce and all(n == nonce.group(1) for n in parser.script_nonces)


@pytest.fixture
def acme(tenant) -> str:
    return org_id("acme")


def _sample(acme: str) -> tuple[str, str, str, str]:
    """A connection, a member with roles, one role they hold and one they do not."""
    conn = auth0.list_enabled_connections(org_id=acme)[0].connection_id
    member = next(m for m in auth0.list_members(org_id=acme).members if m.roles)
    held = {r.id for r in member.roles}
    other = next(r.id for r in auth0.list_roles(per_page=50) if r.id not in held)
    return conn, member.user_id, member.roles[0].id, other


def test_every_page_and_part_is_strict(operator_client, viewer, tenant, acme) -> None:
    conn, user_id, _, _ = _sample(acme)
    gets = [
        (reverse("orgs:list"), {}),
        (reverse("orgs:list"), HTMX),
        (reverse("orgs:detail", args=[acme]), {}),
        (reverse("connections:list", args=[acme]), HTMX),
        (reverse("connections:domain-level", args=[acme, conn]), HTMX),
        (reverse("connections:remove", args=[acme, conn]), HTMX),
        (reverse("orgs:members", args=[acme]), HTMX),
        (reverse("orgs:role-picker", args=[acme]) + f"?user_id={user_id}", HTMX),
        ("/orgs/org_doesNotExist1/", {}),  # the organization's 404 message on a page
        ("/no/such/page/", {}),
    ]
    with contextlib.suppress(NoReverseMatch):  # the audit page, once it exists
        gets.append((reverse("audit:list"), {}))
    for url, headers in gets:
        r = operator_client.get(url, headers=headers)
        assert r.status_code in (200, 404), url
        check_strict(r)
    # pages for people who are not signed in, and for viewers
    anonymous = Client()
    check_strict(anonymous.get(reverse("login")))
    anonymous.force_login(viewer)
    r = anonymous.get(reverse("connections:remove", args=[acme, conn]))
    assert r.status_code == 403
    check_strict(r)


def test_the_sso_refusal_page_is_strict(client, settings) -> None:
    settings.SSO_USER_HEADER = "X-Forwarded-Email"
    settings.SSO_TRUSTED_PROXIES = ["10.0.3.7"]
    r = client.get(reverse("orgs:list"))
    assert r.status_code == 403
    check_strict(r)


def test_images_come_only_from_org_desk_itself(operator_client, tenant) -> None:
    """img-src is 'self': no page loads a picture from elsewhere (member pictures are not shown)."""
    r = operator_client.get(reverse("orgs:list"))
    assert r.status_code == 200
    directives = csp_directives(r["Content-Security-Policy"])
    assert directives["img-src"] == ["'self'"]
    assert directives["default-src"] == ["'self'"]  # the header was read, not an empty one


TEMPLATE_IMAGES = re.compile(r"<img\b|url\(|data:|picture", re.I)


def test_no_template_loads_an_image_from_elsewhere() -> None:
    """What 'self' relies on: the templates show no <img>, no CSS url(), no member picture."""
    templates = [p for d in TEMPLATE_DIRS for p in d.rglob("*.html")]
    assert len(templates) >= 8
    found = {str(p.relative_to(ROOT)): TEMPLATE_IMAGES.findall(p.read_text()) for p in templates}
    assert {k: v for k, v in found.items() if v} == {}
    css = (ROOT / "static" / "app.css").read_text()
    assert "{" in css and "url(" not in css


# --- No page is stored by a browser or a proxy -------------------------------------------------


def assert_no_store(response, what: str) -> None:
    assert response["Cache-Control"] == "no-store", what
    assert not response.has_header("Expires"), what


def test_pages_and_parts_with_people_are_never_stored(
    operator_client, viewer, tenant, acme
) -> None:
    """Every answer with members, emails or the audit log, and error pages, is `no-store`
    alone: no `private` or `max-age` beside it."""
    from adminsite.audit.models import Action, AuditEntry, Outcome

    conn, user_id, _, _ = _sample(acme)
    entry = AuditEntry.objects.create(
        username="olivia",
        action=Action.REMOVE_CONNECTION,
        org_id=acme,
        connection_id=conn,
        outcome=Outcome.SUCCESS,
        before={"assign_membership_on_login": True, "show_as_button": False},
    )
    answers = {
        "organization list": operator_client.get(reverse("orgs:list")),
        "organization list part": operator_client.get(reverse("orgs:list"), headers=HTMX),
        "organization page": operator_client.get(reverse("orgs:detail", args=[acme])),
        "connections part": operator_client.get(
            reverse("connections:list", args=[acme]), headers=HTMX
        ),
        "members part": operator_client.get(reverse("orgs:members", args=[acme]), headers=HTMX),
        "role picker": operator_client.get(
            reverse("orgs:role-picker", args=[acme]) + f"?user_id={user_id}", headers=HTMX
        ),
        "audit list": operator_client.get(reverse("audit:list")),
        "audit entry": operator_client.get(reverse("audit:detail", args=[entry.pk])),
        "missing organization": operator_client.get("/orgs/org_doesNotExist1/"),
        "no such page": operator_client.get("/no/such/page/"),
        "sign-in page": Client().get(reverse("login")),
        "redirect to sign in": Client().get(reverse("orgs:list")),
    }
    viewer_client = Client()
    viewer_client.force_login(viewer)
    answers["viewer's 403"] = viewer_client.post(reverse("connections:remove", args=[acme, conn]))
    statuses = {what: r.status_code for what, r in answers.items()}
    assert statuses["members part"] == statuses["audit entry"] == statuses["role picker"] == 200
    assert statuses["no such page"] == 404 and statuses["viewer's 403"] == 403
    assert statuses["redirect to sign in"] == 302
    body = answers["members part"].content.decode()
    assert "@" in body  # the part really shows people's emails
    for what, r in answers.items():
        assert_no_store(r, what)


def test_a_view_s_own_caching_does_not_survive(rf) -> None:
    """`max-age`, `public` or `private` set further in are replaced by `no-store`, not merged."""
    from django.http import HttpResponse
    from django.utils.cache import patch_cache_control

    from adminsite.middleware import NoStoreMiddleware

    def view(request):
        response = HttpResponse("alice@example.com")
        patch_cache_control(response, public=True, max_age=3600, s_maxage=600)
        response["Expires"] = "Thu, 01 Jan 2099 00:00:00 GMT"
        return response

    r = NoStoreMiddleware(view)(rf.get("/"))
    assert r.content == b"alice@example.com"
    assert_no_store(r, "patched view")


def test_a_server_error_page_is_never_stored(operator_client, tenant, monkeypatch) -> None:
    """The 500 page too (raised by a view, answered by Django's handler)."""
    from orgs import organizations

    def boom(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(organizations.auth0, "list_organizations", boom)
    operator_client.raise_request_exception = False
    r = operator_client.get(reverse("orgs:list"))
    assert r.status_code == 500
    assert_no_store(r, "500 page")


def test_a_nonce_is_new_on_every_response(operator_client, tenant) -> None:
    first = operator_client.get(reverse("orgs:list"))["Content-Security-Policy"]
    second = operator_client.get(reverse("orgs:list"))["Content-Security-Policy"]
    assert first != second


def test_the_checker_catches_inline_code() -> None:
    """Control: the HTML checker used above does find what it looks for."""
    parser = InlineCode()
    parser.feed(
        '<script>alert(1)</script><p style="color:red" onclick="x()" hx-on:click="y">'
        '<a href="JavaScript:z()">z</a><style>p{}</style>'
    )
    assert len(parser.problems) == 6


TEMPLATE_DIRS = [ROOT / "templates", *ROOT.glob("*/templates")]
INLINE_IN_SOURCE = re.compile(
    r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+=|\shx-on|javascript:", re.I
)


def test_no_template_has_inline_script_or_style() -> None:
    """Every template, including ones no test renders: no inline script, style or handler."""
    templates = [p for d in TEMPLATE_DIRS for p in d.rglob("*.html")]
    assert len(templates) >= 8
    found = {str(p.relative_to(ROOT)): INLINE_IN_SOURCE.findall(p.read_text()) for p in templates}
    assert {k: v for k, v in found.items() if v} == {}
    base = (ROOT / "templates" / "base.html").read_text()
    assert "{% csp_nonce_attr %}" in base and '"includeIndicatorStyles": false' in base
    assert '"allowEval": false' in base


# --- /healthz -------------------------------------------------------------------------------------


def test_healthz_needs_no_sign_in_and_calls_nobody(client, tenant) -> None:
    tenant.add_fault(status=500, times=None)  # Auth0 down: the process is still alive
    tenant.clear_log()
    r = client.get(reverse("healthz"))
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    assert r["X-Upstream-Calls"] == "0"
    assert tenant.requests_log == []
    assert client.post(reverse("healthz")).status_code == 405


# --- No secret in any page, message or log line, whatever the upstream does ---------------------

FAULTS: dict[str, dict[str, Any]] = {
    "401-and-401-after-refresh": {"path": r"^/api/v2/", "status": 401},
    "403-scope": {"path": r"^/api/v2/", "status": 403},
    "500": {"path": r"^/api/v2/", "status": 500},
    "timeout": {"path": r"^/api/v2/", "delay": 0.8, "status": 200, "body": {}},
    "not-json": {"path": r"^/api/v2/", "status": 200, "body": "<html>upstream proxy</html>"},
    "dropped": {"path": r"^/api/v2/", "drop": True},
    "token-401": {"path": r"^/oauth/token$", "status": 401},
    "token-500": {"path": r"^/oauth/token$", "status": 500},
    "token-not-json": {"path": r"^/oauth/token$", "status": 200, "body": "access_token=?"},
}
ECHOES: dict[str, dict[str, Any]] = {
    # A misbehaving upstream (or a proxy) repeating what it was sent, in its error message.
    "api-400-echo": {
        "path": r"^/api/v2/",
        "status": 400,
        "body": {
            "statusCode": 400,
            "error": "Bad Request",
            "message": "Rejected Bearer {token} (client_secret=sandbox-secret)",
            "errorCode": "invalid_body",
        },
    },
    "token-403-echo": {
        "path": r"^/oauth/token$",
        "status": 403,
        "body": {
            "error": "access_denied",
            "error_description": "client_secret sandbox-secret is not allowed",
        },
    },
}


def _issued_tokens(tenant) -> list[str]:
    with tenant.lock:
        return list(tenant._tokens)


@pytest.mark.slow  # every fault over real HTTP, some waiting for a timeout
def test_no_secret_anywhere_when_the_upstream_fails(
    operator_client, http_tenant, settings, caplog
) -> None:
    settings.AUTH0_TIMEOUT = 0.5
    for name in ("", "adminsite", "django", "urllib3", "requests"):
        caplog.set_level(logging.DEBUG, logger=name)
    acme = org_id("acme")
    conn, user_id, role_id, other_role = _sample(acme)
    routes = [
        ("GET", reverse("orgs:list"), {}, {}),
        ("GET", reverse("orgs:list"), {"q": "acme"}, {}),
        ("GET", reverse("orgs:detail", args=[acme]), {}, {}),
        ("GET", reverse("connections:list", args=[acme]), {}, HTMX),
        ("GET", reverse("orgs:members", args=[acme]), {}, HTMX),
        ("GET", reverse("orgs:role-picker", args=[acme]), {"user_id": user_id}, HTMX),
        (
            "POST",
            reverse("connections:domain-level", args=[acme, conn]),
            {"is_domain_connection": "true"},
            HTMX,
        ),
        ("POST", reverse("connections:remove", args=[acme, conn]), {}, HTMX),
        (
            "POST",
            reverse("orgs:assign-roles", args=[acme]),
            {"user_id": user_id, "roles": [other_role]},
            HTMX,
        ),
        (
            "POST",
            reverse("orgs:remove-role", args=[acme]),
            {"user_id": user_id, "role": role_id},
            HTMX,
        ),
    ]
    outputs: list[str] = []
    statuses: dict[tuple[str, str, str, str], int] = {}
    cases = {**FAULTS, **ECHOES}
    from django.core.cache import cache

    for fault_name, fault in cases.items():
        for method, url, data, headers in routes:
            http_tenant.clear_faults()
            cache.clear()  # every case fetches a token and calls the API afresh
            auth0.get_organization(org_id=acme)  # a token is issued for this case
            token = _issued_tokens(http_tenant)[-1]
            spec = dict(fault)
            if fault_name in ECHOES:
                body = dict(spec["body"])
                for key in ("message", "error_description"):
                    if key in body:
                        body[key] = body[key].replace("{token}", token)
                spec["body"] = body
            if fault_name.startswith("token"):
                cache.clear()  # the token must be fetched, and fail
            http_tenant.add_fault(**{"times": None, **spec})
            if method == "POST":
                r = operator_client.post(url, data, headers=headers)
            else:  # a page may redirect (a failed jump): follow it to where the message shows
                r = operator_client.get(url, data, headers=headers, follow=True)
            statuses[(fault_name, method, url, repr(data))] = r.status_code
            assert r.status_code < 500, (fault_name, method, url)
            body = r.content.decode()
            assert "Traceback" not in body
            assert "message-error" in body or "message-warning" in body, (fault_name, url)
            outputs.append(body)
            outputs.append(repr(sorted(r.items())))
    http_tenant.clear_faults()
    outputs.append(caplog.text)
    everything = "\n".join(outputs)
    tokens = _issued_tokens(http_tenant)
    assert len(tokens) >= len(cases)
    assert SECRET not in everything
    for token in tokens:
        assert token not in everything
        assert token.rsplit(".", 1)[-1] not in everything  # not even the signature part
    # The failures were really reported (the pages are not silently empty).
    assert "API credentials (401" in everything
    assert "[redacted]" in everything  # the echoed secrets were cut out, the rest kept
    assert len(statuses) == len(cases) * len(routes)


def test_auth0_error_code_is_redacted_and_escaped(operator_client, http_tenant, caplog) -> None:
    """Auth0's errorCode is as untrusted as its message: a 400 whose errorCode echoes the client
    secret, the access token and HTML shows and is stored redacted, and escaped on the pages."""
    from adminsite.audit.models import AuditEntry

    caplog.set_level(logging.DEBUG)
    acme = org_id("acme")
    conn = auth0.list_enabled_connections(org_id=acme)[0].connection_id
    token = _issued_tokens(http_tenant)[-1]
    signature = token.rsplit(".", 1)[-1]
    http_tenant.add_fault(
        path=r"^/api/v2/organizations/[^/]+/enabled_connections/",
        method="DELETE",
        status=400,
        body={
            "statusCode": 400,
            "error": "Bad Request",
            "message": "Payload validation error",
            "errorCode": f"<b>bad</b> {SECRET} {token}",
        },
    )
    r = operator_client.post(reverse("connections:remove", args=[acme, conn]), headers=HTMX)
    page = r.content.decode()
    assert "Auth0 rejected the request (400 &lt;b&gt;bad&lt;/b&gt; [redacted] [redacted])" in page
    assert "<b>bad" not in page

    entry = AuditEntry.objects.latest("pk")
    assert entry.org_id == acme and entry.status_code == 400
    assert entry.error == "<b>bad</b> [redacted] [redacted]"
    detail = operator_client.get(reverse("audit:detail", args=[entry.pk])).content.decode()
    listing = operator_client.get(reverse("audit:list")).content.decode()
    for shown in (detail, listing):
        assert "&lt;b&gt;bad&lt;/b&gt; [redacted] [redacted]" in shown
        assert "<b>bad" not in shown
    everything = "\n".join([page, detail, listing, entry.error, entry.message, caplog.text])
    assert SECRET not in everything
    assert token not in everything and signature not in everything


@pytest.mark.parametrize(
    ("code", "shown"),
    [
        ("invalid_body", "invalid_body"),
        (f"x {SECRET}", "x [redacted]"),
        ("Bearer abcdefghijklmnop", "Bearer [redacted]"),
        ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl", "[redacted]"),
        ("bad\r\ncode\x00", "badcode"),
        ("a" * 100, "a" * 64),
        ("", None),
        (None, None),
    ],
)
def test_error_codes_are_redacted_whoever_raises(code, shown, settings) -> None:
    """The exception itself redacts its error code, and flash and the audit use the same rule."""
    from adminsite import flash
    from adminsite.audit import recording as audit

    settings.AUTH0_CLIENT_SECRET = SECRET
    exc = auth0.BadRequest(f"said {SECRET}", error_code=code)
    assert exc.error_code == shown
    assert exc.message == "said [redacted]" and SECRET not in str(exc)
    assert audit.error_kind(exc) == (shown or "BadRequest")
    described = flash.describe(exc, subject="organization")
    assert described.startswith(f"Auth0 rejected the request (400{' ' + shown if shown else ''}):")
    assert SECRET not in described and SECRET not in audit.failure(exc)["message"]


def test_no_secret_in_logs_on_success(operator_client, http_tenant, caplog) -> None:
    for name in ("", "adminsite", "django", "urllib3", "requests"):
        caplog.set_level(logging.DEBUG, logger=name)
    acme = org_id("acme")
    operator_client.get(reverse("orgs:detail", args=[acme]))
    operator_client.get(reverse("connections:list", args=[acme]), headers=HTMX)
    assert api_calls(http_tenant)
    tokens = _issued_tokens(http_tenant)
    assert tokens and SECRET not in caplog.text
    assert all(t not in caplog.text for t in tokens)


def test_a_per_process_cache_is_reported_by_check_deploy(settings) -> None:
    from adminsite.checks import cache_is_shared

    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache"}}
    assert cache_is_shared() == []
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    warnings = cache_is_shared()
    assert [w.id for w in warnings] == ["adminsite.W001"]
    assert "CACHE_URL=redis://" in (warnings[0].hint or "")
