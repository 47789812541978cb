"""SSO by trusted headers and the viewer/operator split, through the views.

Django's test client connects from 127.0.0.1 unless REMOTE_ADDR says otherwise; the `sso` fixture
trusts 10.0.3.0/24 only, so 127.0.0.1 plays "somebody who reached Org Desk around the proxy".
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.db.models.signals import post_save
from django.urls import reverse

from adminsite import auth0, sso_config
from adminsite.permissions import OPERATORS_GROUP, is_operator
from tests.adminsite.helpers import ALICE, _user, via_proxy
from tests.helpers import HTMX, api_calls, mutations, org_id

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.django_db


# --- configuration --------------------------------------------------------------------------


def test_config_off_without_user_header() -> None:
    assert sso_config.parse("") is None


def test_config_reads_headers_groups_and_networks() -> None:
    config = sso_config.parse(
        " X-Forwarded-Email ",
        "X-Forwarded-Groups",
        ["ops", " leads ", ""],
        ["10.0.3.0/24", "192.168.1.9", "fd00::/64"],
        "/oauth2/sign_out",
    )
    assert config is not None
    assert config.user_meta_key == "HTTP_X_FORWARDED_EMAIL"
    assert config.groups_meta_key == "HTTP_X_FORWARDED_GROUPS"
    assert config.operator_groups == {"ops", "leads"}
    for addr in ("10.0.3.1", "10.0.3.254", "192.168.1.9", "fd00::5", "::ffff:10.0.3.4"):
        assert config.is_trusted(addr), addr
    for outside in ("10.0.4.1", "192.168.1.10", "127.0.0.1", "fd01::5", "", None, "nonsense"):
        assert not config.is_trusted(outside), outside
    meta = {"HTTP_X_FORWARDED_GROUPS": " ops, ,viewers ,leads"}
    assert config.groups_of(meta) == {"ops", "viewers", "leads"}
    assert config.groups_of({}) == frozenset()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"user_header": "X-Forwarded-Email"}, "SSO_TRUSTED_PROXIES is empty"),
        (
            {"user_header": "X-Forwarded-Email", "trusted_proxies": ["10.0.3.0/33"]},
            "'10.0.3.0/33' is not an IP address or CIDR network",
        ),
        (
            {"user_header": "X-Forwarded-Email", "trusted_proxies": ["10.0.3.7/24"]},
            "Did you mean 10.0.3.0/24?",
        ),
        (
            {"user_header": "X-Forwarded-Email", "trusted_proxies": ["proxy.internal"]},
            "not an IP address or CIDR network",
        ),
        (
            {"user_header": "X-Forwarded-Email", "trusted_proxies": ["0.0.0.0/0"]},
            "would trust every address",
        ),
        ({"user_header": "", "groups_header": "X-Forwarded-Groups"}, "without SSO_USER_HEADER"),
        ({"user_header": "", "operator_groups": ["ops"]}, "without SSO_USER_HEADER"),
        ({"user_header": "", "trusted_proxies": ["10.0.0.1"]}, "without SSO_USER_HEADER"),
        (
            {
                "user_header": "X-Forwarded-Email",
                "operator_groups": ["ops"],
                "trusted_proxies": ["10.0.0.1"],
            },  # noqa: E501
            "SSO_GROUPS_HEADER is not",
        ),
        (
            {"user_header": "X Forwarded Email", "trusted_proxies": ["10.0.0.1"]},
            "is not an HTTP header name",
        ),
        ({"user_header": "Cookie", "trusted_proxies": ["10.0.0.1"]}, "another meaning"),
        (
            {"user_header": "X-User", "groups_header": "x-user", "trusted_proxies": ["10.0.0.1"]},
            "must differ",
        ),
        (
            {"user_header": "X-User", "trusted_proxies": ["10.0.0.1"], "logout_url": "//evil"},
            "SSO_LOGOUT_URL",
        ),
    ],
)
def test_config_mistakes_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message.replace("?", r"\?")):
        sso_config.parse(**kwargs)


def _start(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Start Django with the real settings module and this environment, as gunicorn would."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SSO_", "DJANGO_", "AUTH0_"))}
    clean.update(
        DJANGO_SETTINGS_MODULE="adminsite.settings",
        SECRET_KEY="startup-test-" + "k" * 50,
        DEBUG="false",
        AUTH0_SANDBOX="true",
        **env,
    )
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('started')"],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"SSO_USER_HEADER": "X-Forwarded-Email"}, "SSO_TRUSTED_PROXIES is empty"),
        (
            {"SSO_USER_HEADER": "X-Forwarded-Email", "SSO_TRUSTED_PROXIES": "10.0.3.0/24,10.0.9"},
            "'10.0.9' is not an IP address",
        ),
        ({"SSO_GROUPS_HEADER": "X-Forwarded-Groups"}, "without SSO_USER_HEADER"),
    ],
)
@pytest.mark.slow  # a Python process per case
def test_misconfiguration_stops_start_up(env: dict[str, str], message: str) -> None:
    result = _start(env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and message in result.stderr
    assert "started" not in result.stdout


@pytest.mark.slow  # a Python process
def test_good_configuration_starts() -> None:
    result = _start(
        {
            "SSO_USER_HEADER": "X-Forwarded-Email",
            "SSO_GROUPS_HEADER": "X-Forwarded-Groups",
            "SSO_OPERATOR_GROUPS": "orgdesk-operators",
            "SSO_TRUSTED_PROXIES": "10.0.3.7,fd00::/64",
        }
    )
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


# --- signing in by header -------------------------------------------------------------------


def test_trusted_header_signs_in_and_creates_the_user(client, sso, tenant) -> None:
    r = client.get(reverse("orgs:list"), **via_proxy(" Alice@Example.com "))
    assert r.status_code == 200
    user = _user(ALICE)
    assert user.email == ALICE and not user.has_usable_password()
    assert r.context["user"] == user
    body = r.content.decode()
    assert f"{ALICE} · viewer" in body
    assert "Sign out" not in body  # the proxy owns the session
    # the session now holds the user; the next request does not create another
    client.get(reverse("orgs:list"), **via_proxy(ALICE))
    assert get_user_model().objects.filter(username=ALICE).count() == 1


def test_a_new_sso_person_never_exists_with_a_usable_password(client, sso, tenant) -> None:
    """Created in one INSERT with no usable password: a request of the same person that reads
    the row right after it was written (another thread or instance) must not find an empty,
    usable password, which would read as a local account and be refused with a 403."""
    seen: list[bool] = []

    def read_back(sender, instance, created, **kwargs) -> None:
        if created:
            stored = get_user_model().objects.get(pk=instance.pk)
            seen.append(stored.has_usable_password())

    post_save.connect(read_back, sender=get_user_model())
    try:
        r = client.get(reverse("orgs:list"), **via_proxy("bob@example.com"))
    finally:
        post_save.disconnect(read_back, sender=get_user_model())
    assert r.status_code == 200
    assert seen == [False]
    assert _user("bob@example.com").email == "bob@example.com"


def test_sign_out_link_points_to_the_proxy_when_configured(client, sso, tenant) -> None:
    sso.SSO_LOGOUT_URL = "/oauth2/sign_out?rd=https%3A%2F%2Fsso.example.com%2F"
    body = client.get(reverse("orgs:list"), **via_proxy()).content.decode()
    assert 'href="/oauth2/sign_out?rd=https%3A%2F%2Fsso.example.com%2F"' in body
    assert "Sign out" in body and reverse("logout") not in body


def test_headers_from_an_untrusted_address_are_ignored(client, sso, tenant, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="adminsite.sso")
    for addr in ("127.0.0.1", "10.0.4.7", "fd01::1"):
        r = client.get(reverse("orgs:list"), **via_proxy(ALICE, "orgdesk-operators", addr=addr))
        assert r.status_code == 403
        assert r.templates[0].name == "registration/sso_refused.html"
        assert "did not come through it" in r.content.decode()
        assert not r.context["user"].is_authenticated
    assert not get_user_model().objects.filter(username=ALICE).exists()
    assert api_calls(tenant) == []
    assert "not in SSO_TRUSTED_PROXIES" in caplog.text


def test_a_proxy_session_is_worthless_from_elsewhere(client, sso, tenant) -> None:
    """A session cookie made through the proxy, replayed around it, is signed out."""
    assert client.get(reverse("orgs:list"), **via_proxy()).status_code == 200
    r = client.get(reverse("orgs:list"), REMOTE_ADDR="10.9.9.9")
    assert r.status_code == 403 and not r.context["user"].is_authenticated
    r = client.get(reverse("orgs:list"), **via_proxy(None))  # proxy, but no header
    assert r.status_code == 403


def test_missing_header_behind_the_proxy_is_a_403_not_a_login_form(client, sso, tenant) -> None:
    for email in (None, "", "   "):
        r = client.get(reverse("orgs:list"), **via_proxy(email))
        assert r.status_code == 403, email
        body = r.content.decode()
        assert "did not say who you are (no X-Forwarded-Email header)" in body
        assert 'name="password"' not in body
    assert get_user_model().objects.count() == 0


@pytest.mark.parametrize("name", ["a" * 140 + "@example.com", "bob\x00@example.com", "b ob@x.io"])
def test_unacceptable_names_are_refused(client, sso, tenant, name) -> None:
    r = client.get(reverse("orgs:list"), **via_proxy(name))
    assert r.status_code == 403
    assert "does not accept that account" in r.content.decode()
    assert get_user_model().objects.count() == 0


def _create_operator(username: str) -> None:
    import io

    from django.core.management import call_command

    call_command("create_operator", username=username, stdout=io.StringIO())


@pytest.mark.parametrize("name", ["operator", "Operator", "admin", "alice@", "@example.com"])
def test_a_header_that_is_not_an_email_is_refused(client, sso, tenant, name, caplog) -> None:
    """A proxy passing a bare username never signs anyone in as the local `operator`."""
    _create_operator("operator")
    caplog.set_level(logging.WARNING, logger="adminsite.sso")
    for htmx in (False, True):
        r = client.get(
            reverse("orgs:list"),
            headers=HTMX if htmx else {},
            **via_proxy(name, "orgdesk-operators"),
        )
        assert r.status_code == 403
        assert not r.wsgi_request.user.is_authenticated
        assert "does not hold an email address" in r.content.decode()
    assert r.wsgi_request.user.is_anonymous
    assert list(get_user_model().objects.values_list("username", flat=True)) == ["operator"]
    assert "not an email address" in caplog.text
    assert api_calls(tenant) == []


@pytest.mark.parametrize("header", ["ops@example.com", " OPS@Example.com "])
def test_an_email_of_a_local_password_account_is_refused(client, sso, tenant, header) -> None:
    """An account made by create_operator (or with any usable password) is never the SSO's,
    even when its username is an email."""
    _create_operator("ops@example.com")
    r = client.get(reverse("orgs:list"), **via_proxy(header, "orgdesk-operators"))
    assert r.status_code == 403
    body = r.content.decode()
    assert "local Org Desk account with a password" in body
    assert not r.wsgi_request.user.is_authenticated
    assert get_user_model().objects.count() == 1  # no twin account made either
    # the same proxy signs a real SSO person in as usual
    r = client.get(reverse("orgs:list"), **via_proxy(ALICE, "orgdesk-operators"))
    assert r.status_code == 200 and f"{ALICE} · operator" in r.content.decode()


def test_existing_sso_people_keep_working(client, sso, tenant, django_user_model) -> None:
    """Accounts the proxy made earlier (unusable password), superusers made without a password
    for the SSO, and the groups sync are unchanged."""
    django_user_model.objects.create_user(ALICE, ALICE)  # password None: unusable
    django_user_model.objects.create_superuser("root@example.com", "root@example.com", None)
    r = client.get(reverse("orgs:list"), **via_proxy(ALICE, "orgdesk-operators"))
    assert r.status_code == 200 and f"{ALICE} · operator" in r.content.decode()
    assert is_operator(_user(ALICE))
    r = client.get(reverse("orgs:list"), **via_proxy(ALICE))
    assert f"{ALICE} · viewer" in r.content.decode() and not is_operator(_user(ALICE))
    r = client.get(reverse("orgs:list"), **via_proxy("root@example.com"))
    assert r.status_code == 200 and "root@example.com · operator" in r.content.decode()
    assert get_user_model().objects.count() == 2


def test_an_sso_session_ends_when_its_account_gets_a_password(client, sso, tenant) -> None:
    assert client.get(reverse("orgs:list"), **via_proxy()).status_code == 200
    user = _user(ALICE)
    user.set_password("now-a-local-account")
    user.save()
    r = client.get(reverse("orgs:list"), **via_proxy())
    assert r.status_code == 403
    assert "local Org Desk account with a password" in r.content.decode()


def test_a_password_session_is_worthless_behind_the_proxy(client, settings, tenant) -> None:
    """Signed in with a password before SSO was switched on: the header naming the same account
    does not keep that session."""
    _create_operator("operator")
    client.force_login(_user("operator"), backend="adminsite.sso.PasswordBackend")
    assert client.get(reverse("orgs:list")).status_code == 200
    settings.SSO_USER_HEADER = "X-Forwarded-Email"
    settings.SSO_TRUSTED_PROXIES = ["10.0.3.0/24"]
    r = client.get(reverse("orgs:list"), **via_proxy("operator"))
    assert r.status_code == 403 and not r.wsgi_request.user.is_authenticated
    assert "does not hold an email address" in r.content.decode()


def test_a_deactivated_user_is_refused(client, sso, tenant, django_user_model) -> None:
    django_user_model.objects.create_user(ALICE, is_active=False)
    r = client.get(reverse("orgs:list"), **via_proxy(ALICE, "orgdesk-operators"))
    assert r.status_code == 403
    assert "does not accept that account" in r.content.decode()


def test_another_user_in_the_header_switches_users(client, sso, tenant) -> None:
    client.get(reverse("orgs:list"), **via_proxy(ALICE, "orgdesk-operators"))
    r = client.get(reverse("orgs:list"), **via_proxy("bob@example.com"))
    assert r.context["user"].username == "bob@example.com"
    assert "bob@example.com · viewer" in r.content.decode()


def test_htmx_request_without_sign_in_gets_a_message(client, sso, tenant) -> None:
    acme = org_id("acme")
    tenant.clear_log()
    r = client.get(reverse("connections:list", args=[acme]), headers=HTMX, REMOTE_ADDR="1.2.3.4")
    assert r.status_code == 403 and r["HX-Reswap"] == "none"
    body = r.content.decode()
    assert "Not signed in (403)" in body and "hx-swap-oob" in body
    assert api_calls(tenant) == []


def test_login_form_is_not_a_way_in_behind_the_proxy(client, sso, operator, tenant) -> None:
    """A password user (olivia, a superuser) cannot sign in with the form while SSO is on."""
    login = reverse("login")
    for extra in ({"REMOTE_ADDR": "127.0.0.1"}, via_proxy(None)):
        assert client.get(login, **extra).status_code == 403
        r = client.post(login, {"username": "olivia", "password": "pw-operator"}, **extra)
        assert r.status_code == 403
        assert "_auth_user_id" not in client.session
    assert authenticate(username="olivia", password="pw-operator") is None
    # signed in by the proxy, the login page just leads on
    r = client.get(login, **via_proxy())
    assert r.status_code == 302 and r["Location"] == reverse("orgs:list")


def test_admin_login_is_not_a_way_in_either(client, sso, operator) -> None:
    r = client.post(
        reverse("admin:login"),
        {"username": "olivia", "password": "pw-operator"},
        REMOTE_ADDR="127.0.0.1",
    )
    assert r.status_code == 403 and "_auth_user_id" not in client.session


def test_password_reset_pages_do_not_exist(client) -> None:
    for path in ("/accounts/password_reset/", "/accounts/password_change/"):
        assert client.get(path).status_code in (302, 404)  # 302: sign in first, then 404


@pytest.mark.parametrize("name", ["admin:login"])
def test_no_password_flow_is_open_behind_the_proxy(client, sso, mailoutbox, name) -> None:
    get_user_model().objects.create_user("carol@example.com", "carol@example.com")
    for extra in ({"REMOTE_ADDR": "127.0.0.1"}, via_proxy(None)):
        assert client.get(reverse(name), **extra).status_code == 403
        r = client.post(reverse(name), {"email": "carol@example.com"}, **extra)
        assert r.status_code == 403
    assert mailoutbox == []


def test_healthz_needs_no_sign_in_behind_the_proxy(client, sso) -> None:
    assert client.get(reverse("healthz"), REMOTE_ADDR="192.0.2.1").status_code == 200


def test_without_sso_the_headers_mean_nothing(client, tenant, operator) -> None:
    """SSO off (the default): Django's own login, whatever headers arrive, from wherever."""
    r = client.get(reverse("orgs:list"), **via_proxy(ALICE, "orgdesk-operators", "127.0.0.1"))
    assert r.status_code == 302 and r["Location"].startswith(reverse("login"))
    assert not get_user_model().objects.filter(username=ALICE).exists()
    r = client.post(reverse("login"), {"username": "olivia", "password": "pw-operator"})
    assert r.status_code == 302
    r = client.get(reverse("orgs:list"), **via_proxy(ALICE))
    assert r.context["user"].username == "olivia"
    assert "Sign out" in r.content.decode()


def test_a_proxy_session_is_worthless_once_sso_is_off(client, sso, tenant) -> None:
    client.get(reverse("orgs:list"), **via_proxy())
    sso.SSO_USER_HEADER = sso.SSO_GROUPS_HEADER = ""
    sso.SSO_OPERATOR_GROUPS = sso.SSO_TRUSTED_PROXIES = []
    r = client.get(reverse("orgs:list"))
    assert r.status_code == 302 and r["Location"].startswith(reverse("login"))


# --- operator or viewer, from the groups on every request ------------------------------------


def test_operator_group_makes_an_operator_and_removal_demotes_at_once(
    client, sso, tenant, acme
) -> None:
    conn = auth0.list_enabled_connections(org_id=acme)[0]
    connections = reverse("connections:list", args=[acme])
    r = client.get(connections, headers=HTMX, **via_proxy(groups="staff, orgdesk-operators"))
    assert "Remove…" in r.content.decode()
    assert is_operator(_user(ALICE))
    assert _user(ALICE).groups.filter(name=OPERATORS_GROUP).exists()

    # The IdP drops Alice from the group: the very next request is a viewer's.
    url = reverse("connections:remove", args=[acme, conn.connection_id])
    r = client.post(url, headers=HTMX, **via_proxy(groups="staff"))
    assert r.status_code == 403
    assert "read-only access (viewer)" in r.content.decode()
    assert mutations(tenant) == []
    assert not is_operator(_user(ALICE))
    r = client.get(connections, headers=HTMX, **via_proxy(groups="staff"))
    assert r.status_code == 200 and 'data-testid="connection-row"' in r.content.decode()
    assert "Remove…" not in r.content.decode()

    # Back in a group: an operator again, and the removal goes through.
    r = client.post(url, headers=HTMX, **via_proxy(groups="support-leads"))
    assert r.status_code == 200
    assert [m["method"] for m in mutations(tenant)] == ["DELETE"]


def test_no_groups_header_on_a_request_means_viewer(client, sso, tenant) -> None:
    client.get(reverse("orgs:list"), **via_proxy(groups="orgdesk-operators"))
    assert is_operator(_user(ALICE))
    r = client.get(reverse("orgs:list"), **via_proxy())
    assert "· viewer" in r.content.decode()
    assert not is_operator(_user(ALICE))


def test_group_names_match_exactly(client, sso, tenant) -> None:
    r = client.get(
        reverse("orgs:list"), **via_proxy(groups="OrgDesk-Operators,orgdesk-operators-x")
    )
    assert "· viewer" in r.content.decode()


def test_superusers_are_operators_whatever_their_groups(client, sso, tenant, django_user_model):
    django_user_model.objects.create_superuser(ALICE, ALICE, None)
    r = client.get(reverse("orgs:list"), **via_proxy(groups="staff"))
    assert f"{ALICE} · operator" in r.content.decode()


def test_without_groups_header_operators_are_managed_in_django(client, sso, tenant) -> None:
    from django.contrib.auth.models import Group

    sso.SSO_GROUPS_HEADER = ""
    sso.SSO_OPERATOR_GROUPS = []
    client.get(reverse("orgs:list"), **via_proxy(groups="orgdesk-operators"))
    assert not is_operator(_user(ALICE))  # the groups header is not read at all
    _user(ALICE).groups.add(Group.objects.create(name=OPERATORS_GROUP))
    r = client.get(reverse("orgs:list"), **via_proxy())
    assert f"{ALICE} · operator" in r.content.decode()
