"""Sign-in by the company's SSO proxy, on Django's own remote-user machinery.

With `SSO_USER_HEADER` set, the proxy in front of Org Desk says who the person is (their email)
and, with `SSO_GROUPS_HEADER`, which groups they are in. Those headers are believed only when the
request comes from an address in `SSO_TRUSTED_PROXIES`; from anywhere else they are ignored.

- `SSOMiddleware` is Django's RemoteUserMiddleware reading the configured header. It signs the
  person in (creating the user on first sight), switches users when the header names someone
  else, and signs out anyone whose request does not carry a trusted header. On every request it
  re-reads the groups and sets the person's membership of Org Desk's `operators` group, so
  `permissions.is_operator` (views, templates, everything) sees a change at once. The user and
  their membership come from adminsite.usercache: a request that changes nothing makes no query.
- Behind the proxy, Django's login form is not a way in: a request that is not signed in by the
  proxy gets a 403 page saying why, and `PasswordBackend` accepts no password.
- The header can only ever name an SSO person: its value must be an email address, and it never
  signs anyone in as a local account that has a password (such as the `operator` account made by
  `manage.py create_operator`). People the proxy signed in get an unusable password when Org Desk
  creates them; that is what marks an account as the proxy's to vouch for.
- Without `SSO_USER_HEADER` all of this stands aside and Django's own login works as before.

Settings are read on each request (checked and cached by adminsite.sso_config), so tests can
switch SSO on and off with settings overrides.
"""

from __future__ import annotations

import functools
import logging
import unicodedata
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import cast

from django.conf import settings
from django.contrib import auth, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend, RemoteUserBackend
from django.contrib.auth.hashers import make_password
from django.contrib.auth.middleware import RemoteUserMiddleware
from django.contrib.auth.models import AbstractBaseUser, Group, User
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render

from adminsite import flash, memo, readahead, sso_config, usercache
from adminsite.auth0 import client as auth0_client
from adminsite.permissions import OPERATOR_FLAG, OPERATORS_GROUP, in_operators_group
from adminsite.sessions import SessionStore as CombinedSession

logger = logging.getLogger(__name__)

MAX_USERNAME = 150  # Django's User.username


def current() -> sso_config.SSOConfig | None:
    """The SSO configuration in force (None: SSO is off and Django's own login is used)."""
    return sso_config.parse_cached(
        getattr(settings, "SSO_USER_HEADER", "") or "",
        getattr(settings, "SSO_GROUPS_HEADER", "") or "",
        tuple(getattr(settings, "SSO_OPERATOR_GROUPS", ()) or ()),
        tuple(getattr(settings, "SSO_TRUSTED_PROXIES", ()) or ()),
        getattr(settings, "SSO_LOGOUT_URL", "") or "",
    )


@dataclass(frozen=True, slots=True)
class SSORequest:
    """What the middleware found out about this request (request.sso; None when SSO is off)."""

    config: sso_config.SSOConfig
    trusted: bool  # REMOTE_ADDR is one of SSO_TRUSTED_PROXIES
    claimed_user: str | None  # the user header's value, only when trusted
    groups: frozenset[str]  # the groups header's values, only when trusted


@functools.lru_cache(maxsize=4096)
def valid_username(username: str) -> bool:
    """An SSO name Org Desk accepts as a username: an email address, short enough, with no
    spaces or control characters (a bare name such as `operator` is a local account's).
    Asked twice a request for the same few names: the answers are kept (a pure function)."""
    if not 0 < len(username) <= MAX_USERNAME or any(
        unicodedata.category(c)[0] in "CZ" for c in username
    ):
        return False
    try:
        validate_email(username)
    except ValidationError:
        return False
    return True


def clean_username(username: str) -> str:
    """The username an SSO header value stands for: trimmed and lowercased."""
    return username.strip().lower()


def local_account(username: str) -> AbstractBaseUser | None:
    """A local account the SSO must never sign in as: one with a usable password (made by
    createsuperuser, create_operator or the admin), whatever the case of its username."""
    for user in get_user_model()._default_manager.filter(username__iexact=username):
        if user.has_usable_password():
            return user
    return None


def refusal(username: str) -> str | None:
    """Why the SSO may not sign in as `username` (cleaned), or None when it may."""
    if not valid_username(username):
        return "not_email"
    if local_account(username) is not None:
        return "local_account"
    return None


class SSOBackend(RemoteUserBackend):
    """Django's RemoteUserBackend for the proxy's email header; idle when SSO is off."""

    create_unknown_user = True

    def clean_username(self, username: str) -> str:
        return clean_username(username)

    # remote_user instead of username/password, as in Django's RemoteUserBackend (whose stub
    # ignores the same mismatch with ModelBackend).
    def authenticate(  # type: ignore[override]
        self, request: HttpRequest | None, remote_user: str | None
    ) -> User | None:
        if current() is None or not remote_user:
            return None
        username = self.clean_username(remote_user)
        reason = refusal(username)
        if reason is not None:
            logger.warning(
                "SSO: refused to sign in as %r (%s)",
                username[:MAX_USERNAME],
                "not an email address" if reason == "not_email" else "a local account",
            )
            return None
        # Created in one INSERT with no usable password (the proxy vouches for them) and the
        # email. Django's RemoteUserBackend inserts the user first and sets the password in a
        # second statement: a request of the same person in between (another thread, or
        # another instance) found an account with a usable, empty password, which refusal()
        # takes for a local account, and answered 403.
        user, created = User._default_manager.get_or_create(
            username=username,
            defaults={"password": make_password(None), "email": username},
        )
        if created:
            logger.info("SSO: first sign-in of %s, user created", username)
        return user if self.user_can_authenticate(user) else None

    def get_user(self, user_id: object) -> User | None:
        # A session made by the proxy is worth nothing once SSO is switched off, nor once its
        # account stops being an SSO person's (given a password, say).
        if current() is None:
            return None
        user = _cached_user(self, user_id)
        if user is None or user.has_usable_password() or not valid_username(user.get_username()):
            return None
        return user


class PasswordBackend(ModelBackend):
    """Django's username/password backend; it accepts no password while SSO is on."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: object,
    ) -> User | None:
        if current() is not None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)

    def get_user(self, user_id: object) -> User | None:
        # A session made with a password is worth nothing behind the proxy: otherwise a header
        # naming the same account would keep it signed in, password account and all.
        return _cached_user(self, user_id) if current() is None else None


def _cached_user(backend: ModelBackend, user_id: object) -> User | None:
    """ModelBackend.get_user from adminsite.usercache: no query for a user seen recently."""
    user = usercache.get(user_id)
    return user if user is not None and backend.user_can_authenticate(user) else None


def sync_operator_role(user: User, request_sso: SSORequest) -> None:
    """Make the `operators` group membership match the proxy's groups, on every request.

    Only with SSO_GROUPS_HEADER: without it, operators are managed in Django's admin. The
    membership compared with is the one the user instance carries (adminsite.usercache), so a
    request whose groups change nothing makes no query and no write; one that changes it
    writes it, and this request's views and templates already see the new answer.
    """
    config = request_sso.config
    if config.groups_meta_key is None:
        return
    wanted = bool(request_sso.groups & config.operator_groups)
    if wanted == in_operators_group(user):
        return
    group, _ = Group.objects.get_or_create(name=OPERATORS_GROUP)
    if wanted:
        user.groups.add(group)
    else:
        user.groups.remove(group)
    setattr(user, OPERATOR_FLAG, wanted)
    logger.info(
        "SSO: %s is %s an operator (groups from the proxy)",
        user.get_username(),
        "now" if wanted else "no longer",
    )


def _read_session_and_user(request: HttpRequest, request_sso: SSORequest) -> usercache.Offer | None:
    """The session and the user the header names, in one cache round trip (adminsite.sessions,
    adminsite.usercache); None when there is no trusted header to name them by. Only a name
    that could sign in is looked up (its entry is still checked against the session's user)."""
    if not request_sso.claimed_user:
        return None
    username = clean_username(request_sso.claimed_user)
    if not valid_username(username):
        return None
    session = getattr(request, "session", None)
    session_key = session.cache_key_if_any() if isinstance(session, CombinedSession) else None
    if session_key is not None and settings.SESSION_CACHE_ALIAS != "default":
        session_key = None
    user_key = usercache.name_key(username)
    keys = [user_key, usercache.GENERATION] + ([session_key] if session_key else [])
    # With them, what the request's first Management API call needs (its token, and whether
    # any rate budget is shared: adminsite.auth0.client.early_keys), and what the view says
    # it will read (adminsite.readahead), a stash it takes read and deleted in the same trip.
    ahead = readahead.of(request, username) or readahead.Reads()
    taking = getattr(cache, "get_many_deleting", None) if ahead.take else None
    taken = ahead.take if taking is not None else None
    wanted = [*keys, *auth0_client.early_keys(), *ahead.keys, *([taken] if taken else [])]
    try:
        found = taking(wanted, [taken]) if taking is not None else cache.get_many(wanted)
    except Exception:  # the cache is down: each is read (and fails) on its own, as before
        logger.exception("SSO: could not read the session and the user from the cache")
        return None
    auth0_client.offer_early(found)
    memo.read_ahead(found, ahead.keys, taken)
    if session_key is not None:
        cast(CombinedSession, session).offer(found.get(session_key))
    return usercache.Offer(username, found.get(user_key), found.get(usercache.GENERATION) or "")


def _set_sso(request: HttpRequest, request_sso: SSORequest | None) -> None:
    # The attribute this middleware adds; read back with getattr(request, "sso", None).
    request.sso = request_sso  # type: ignore[attr-defined]


class SSOMiddleware(RemoteUserMiddleware):
    """RemoteUserMiddleware for the configured header, honoured only from trusted proxies.

    Goes right after AuthenticationMiddleware and before LoginRequiredMiddleware.
    """

    sync_capable = True
    # Sync only: the stub types Django's attribute as Literal[True], which a subclass cannot lower.
    async_capable = False  # type: ignore[assignment]

    # A property, not Django's class attribute: the header follows the settings of each request.
    @property
    def header(self) -> str:  # type: ignore[override]
        """The request.META key of SSO_USER_HEADER (e.g. HTTP_X_FORWARDED_EMAIL)."""
        config = current()
        return config.user_meta_key if config else "REMOTE_USER"

    def __call__(self, request: HttpRequest) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        config = current()
        if config is None:
            _set_sso(request, None)
            return self.get_response(request)
        trusted = config.is_trusted(request.META.get("REMOTE_ADDR"))
        request_sso = SSORequest(
            config=config,
            trusted=trusted,
            claimed_user=request.META.get(config.user_meta_key) if trusted else None,
            groups=config.groups_of(request.META) if trusted else frozenset(),
        )
        _set_sso(request, request_sso)
        if not trusted and config.user_meta_key in request.META:
            logger.warning(
                "SSO: ignored the %s header from %s, which is not in SSO_TRUSTED_PROXIES",
                config.user_header,
                request.META.get("REMOTE_ADDR"),
            )
        offer = _read_session_and_user(request, request_sso)
        if offer is None:
            return self._signed_in(request, request_sso)
        with usercache.offered(offer):
            return self._signed_in(request, request_sso)

    def _signed_in(
        self, request: HttpRequest, request_sso: SSORequest
    ) -> HttpResponseBase | Awaitable[HttpResponseBase]:
        self.process_request(request)
        if request.user.is_authenticated:
            sync_operator_role(request.user, request_sso)
        return self.get_response(request)

    def get_username(self, request: HttpRequest) -> str:
        """The proxy's user header, only from a trusted proxy (KeyError: there is none)."""
        request_sso: SSORequest | None = getattr(request, "sso", None)
        if request_sso is None or not request_sso.trusted:
            raise KeyError("no SSO header from a trusted proxy")
        return super().get_username(request)

    def _remove_invalid_user(self, request: HttpRequest) -> None:
        # Django signs out only users its remote-user backend signed in; behind the proxy,
        # a session of any kind is worth nothing without the proxy's header.
        auth.logout(request)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., HttpResponse],
        view_args: tuple[object, ...],
        view_kwargs: dict[str, object],
    ) -> HttpResponse | None:
        request_sso: SSORequest | None = getattr(request, "sso", None)
        if request_sso is None:
            return None
        match = request.resolver_match
        view_name = match.view_name if match else ""
        if request.user.is_authenticated:
            if view_name == "login":  # nothing to sign in to: the proxy did it
                return redirect(settings.LOGIN_REDIRECT_URL)
            return None
        if getattr(view_func, "login_required", True) or _password_flow(view_func):
            return refuse(request, request_sso)
        return None  # Org Desk's own views open to everyone, such as /healthz


def _password_flow(view_func: Callable[..., HttpResponse]) -> bool:
    """Django's own sign-in views (login, password reset, admin login): not a way in behind SSO."""
    view = getattr(view_func, "view_class", view_func)
    return view.__module__.startswith(("django.contrib.auth.", "django.contrib.admin."))


def refusal_reason(request_sso: SSORequest) -> str:
    """Why a request behind SSO is not signed in, in words for the person reading the page."""
    config = request_sso.config
    if not request_sso.trusted:
        return (
            "Org Desk signs people in through the company's single sign-on (SSO) proxy, and "
            "this request did not come through it. Open Org Desk at its usual address."
        )
    if not (request_sso.claimed_user or "").strip():
        return (
            f"The SSO proxy did not say who you are (no {config.user_header} header), so Org "
            "Desk cannot sign you in. Sign in to the SSO again; if this persists, ask its "
            f"administrators to pass {config.user_header}."
        )
    match refusal(clean_username(request_sso.claimed_user or "")):
        case "not_email":
            return (
                f"The SSO proxy signed you in, but its {config.user_header} header does not "
                "hold an email address, and Org Desk does not accept that account: only a "
                "person's email can name someone signed in by the SSO. Ask the SSO's "
                f"administrators to pass the email in {config.user_header}."
            )
        case "local_account":
            return (
                "The SSO proxy signed you in, but Org Desk does not accept that account: the "
                "email belongs to a local Org Desk account with a password, which the SSO never "
                "signs in as. Ask an Org Desk administrator to remove that account's password "
                "or the account."
            )
    return (
        "The SSO proxy signed you in, but Org Desk does not accept that account "
        "(it is deactivated). Ask an Org Desk administrator."
    )


def refuse(request: HttpRequest, request_sso: SSORequest) -> HttpResponse:
    """403 with the reason: a page, or for htmx a flash message and no swap."""
    reason = refusal_reason(request_sso)
    if getattr(request, "htmx", False):
        messages.error(request, f"Not signed in (403). {reason}")
        return flash.no_swap(status=403)
    return render(
        request,
        "registration/sso_refused.html",
        {"reason": reason, "sso_header": request_sso.config.user_header},
        status=403,
    )
