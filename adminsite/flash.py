"""Turn the service module's typed errors into flash messages that say what happened and what
to do (one wording per failure: 400, 401, 403, 404, 409, 429, 5xx, timeouts).

Views decide when to report; this module owns the wording, so that every page says the same
thing for the same failure. Messages never contain a secret: the exceptions carry only
Auth0's own `message` and our classification.
"""

from __future__ import annotations

from datetime import UTC

from django.contrib import messages
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django_htmx.http import reswap

from adminsite import auth0


def describe(exc: auth0.Auth0Error, *, subject: str, changing: bool = False) -> str:
    """One sentence on what happened, one on what to do."""
    detail = exc.message.rstrip(".") if exc.message else ""
    match exc:
        case auth0.BadRequest():
            error_code = auth0.errors.redact_code(exc.error_code)  # Auth0's, untrusted
            code = f" {error_code}" if error_code else ""
            return (
                f"Auth0 rejected the request (400{code}): {detail}. "
                "Nothing was changed; check the input and try again."
            )
        case auth0.Unauthorized():
            return (
                f"Auth0 rejected Org Desk's API credentials (401: {detail or 'Unauthorized'}), "
                "even after fetching a fresh token. Ask an administrator to check "
                "AUTH0_CLIENT_ID and AUTH0_CLIENT_SECRET."
            )
        case auth0.Forbidden() if exc.missing_scopes:
            scopes = ", ".join(exc.missing_scopes)
            many = len(exc.missing_scopes) > 1
            return (
                f"Org Desk's Auth0 application is missing the scope {scopes} (403 "
                "insufficient_scope). Ask an administrator to grant "
                f"{'one of them' if many else 'it'} to Org Desk's machine-to-machine application "
                "(Auth0 Dashboard → APIs → Auth0 Management API → Machine to Machine Applications)."
            )
        case auth0.Forbidden():
            return (
                f"Auth0 refused the request (403: {detail or 'Forbidden'}). "
                "Ask an administrator to check Org Desk's access to the Management API."
            )
        case auth0.NotFound():
            return (
                f"That {subject} no longer exists in Auth0 (404). "
                "Someone may have removed it; reload the page to see the current state."
            )
        case auth0.Conflict():
            return f"Auth0 reported a conflict (409): {detail}. Nothing was changed."
        case auth0.RateLimited():
            when = ""
            if exc.reset_at is not None:
                when = f" (at {exc.reset_at.astimezone(UTC):%H:%M:%S} UTC)"
            return (
                f"Auth0 is rate limiting Org Desk (429 Too Many Requests). "
                f"Nothing was changed; try again in {exc.retry_after} seconds{when}."
            )
        case auth0.Unavailable():
            what = {
                "timeout": "did not answer in time (timeout)",
                "connection": "could not be reached (connection error)",
                "bad_response": "sent a response Org Desk could not read",
            }.get(exc.reason, f"failed ({exc.status_code} server error)")
            after = (
                "Nothing was changed locally; reload to check whether the change reached Auth0, "
                "then try again."
                if changing
                else "Nothing was changed; try again in a moment."
            )
            return f"Auth0 {what}. {after}"
        case _:
            status = f" ({exc.status_code})" if exc.status_code else ""
            return f"Auth0 returned an unexpected error{status}: {detail}. Nothing was changed."


def report(
    request: HttpRequest, exc: auth0.Auth0Error, *, subject: str, changing: bool = False
) -> None:
    messages.error(request, describe(exc, subject=subject, changing=changing))


def no_swap(status: int = 200) -> HttpResponse:
    """An htmx answer that leaves the page as it is: the flash message it carries says why."""
    return reswap(HttpResponse(status=status), "none")


def refuse(request: HttpRequest, message: str, *, status: int = 400) -> HttpResponse:
    """A request Org Desk will not act on: the message, alone for htmx or on a plain page."""
    messages.error(request, message)
    if getattr(request, "htmx", False):
        return no_swap(status=status)
    return render(request, "refused.html", status=status)


def refuse_form(request: HttpRequest, form: Form, outcome: str) -> HttpResponse:
    """A form that did not validate: `outcome` ("Nothing was changed") and the form's errors."""
    errors = "; ".join(str(e) for errs in form.errors.values() for e in errs)
    return refuse(request, f"{outcome}: {errors}")
