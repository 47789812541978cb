"""Enabling a connection for an organization and changing its settings there:
the views, the rules checked before any call, the audit entries and the upstream calls."""

from __future__ import annotations

import pytest
from django.urls import reverse

from adminsite import auth0
from adminsite.audit.models import Action, AuditEntry, Outcome
from connections import rules
from tests.helpers import HTMX, api_calls, mutations, org_id

# Acme (seeded): 6 enabled; the tenant has these others, not enabled there.
PARTNERS_DB = "partners-db"  # auth0 (database)
AZURE = "contoso-azure-ad"  # waad (enterprise)
GITHUB = "github"  # social


@pytest.fixture
def acme(tenant) -> str:
    return org_id("acme")


def tenant_connection(name: str) -> auth0.Connection:
    return next(c for c in auth0.list_connections() if c.name == name)


def enabled_by_name(org: str, name: str) -> auth0.EnabledConnection:
    return next(c for c in auth0.list_enabled_connections(org_id=org) if c.name == name)


def add_url(org: str) -> str:
    return reverse("connections:add", args=[org])


def settings_url(org: str, connection_id: str) -> str:
    return reverse("connections:settings", args=[org, connection_id])


def text(response) -> str:
    return response.content.decode()


def calls(tenant) -> list[tuple[str, str]]:
    return [(c["method"], c["raw_path"]) for c in api_calls(tenant)]


def state(value: object) -> dict:
    assert isinstance(value, dict)
    return value


def entries() -> list[AuditEntry]:
    return list(AuditEntry.objects.order_by("pk"))


# --- the rules ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("strategy", "keys", "button"),
    [
        ("auth0", ("assign_membership_on_login", "is_signup_enabled"), False),
        ("samlp", ("assign_membership_on_login", "show_as_button"), True),
        ("waad", ("assign_membership_on_login", "show_as_button"), True),
        ("google-apps", ("assign_membership_on_login", "show_as_button"), True),
        ("google-oauth2", ("assign_membership_on_login",), False),
        ("email", ("assign_membership_on_login",), False),
    ],
)
def test_settings_that_apply_and_defaults_by_strategy(strategy, keys, button) -> None:
    assert rules.applicable(strategy) == keys
    assert rules.defaults(strategy) == {
        "assign_membership_on_login": False,
        "show_as_button": button,
        "is_signup_enabled": False,
    }


def test_signup_rules() -> None:
    on = {"assign_membership_on_login": True, "is_signup_enabled": True}
    assert rules.rule_problem("db", "auth0", on) is None
    assert "only be turned on for database connections" in (
        rules.rule_problem("saml", "samlp", on) or ""
    )
    off = {"assign_membership_on_login": False, "is_signup_enabled": True}
    assert "needs membership on login" in (rules.rule_problem("db", "auth0", off) or "")
    assert rules.rule_problem("saml", "samlp", {"is_signup_enabled": False}) is None


# --- the picker ------------------------------------------------------------------------------


def test_operator_sees_add_and_edit_buttons(operator_client, tenant, acme) -> None:
    url = reverse("connections:list", args=[acme])
    body = text(operator_client.get(url, headers=HTMX))
    assert "Add connection…" in body and body.count("Edit settings…") == 6


def test_viewer_sees_neither_add_nor_edit(viewer_client, tenant, acme) -> None:
    url = reverse("connections:list", args=[acme])
    body = text(viewer_client.get(url, headers=HTMX))
    assert "Add connection…" not in body and "Edit settings…" not in body


def test_picker_lists_the_connections_not_enabled_here_with_strategy(
    operator_client, tenant, acme
) -> None:
    auth0.list_connections()  # the connection index, cached as the Connections part leaves it
    here = {e.name for e in auth0.list_enabled_connections(org_id=acme)}
    others = [c for c in auth0.list_connections() if c.name not in here]
    tenant.clear_log()
    r = operator_client.get(add_url(acme), headers=HTMX)
    body = text(r)
    assert 'data-step data-testid="add-connection"' in body
    assert body.count('data-testid="connection-option"') == len(others) == 6
    for c in others:
        assert f'>{c.name}</button> <span class="badge">{c.strategy}</span>' in body
    assert "acme-saml</button>" not in body  # enabled already
    assert "6 of 10 enabled" in body
    assert calls(tenant) == [("GET", f"/api/v2/organizations/{acme}/enabled_connections")]


def test_filter_narrows_the_options_without_a_call(operator_client, tenant, acme) -> None:
    operator_client.get(add_url(acme), headers=HTMX)
    tenant.clear_log()
    r = operator_client.get(
        add_url(acme), {"q": "AZURE"}, headers={**HTMX, "HX-Target": "conn-options"}
    )
    body = text(r)
    assert body.lstrip().startswith('<div id="conn-options"')
    assert body.count('data-testid="connection-option"') == 1 and AZURE in body
    assert api_calls(tenant) == []
    r = operator_client.get(
        add_url(acme), {"q": "waad"}, headers={**HTMX, "HX-Target": "conn-options"}
    )
    assert AZURE in text(r)  # by strategy too
    r = operator_client.get(
        add_url(acme), {"q": "<b>nothing"}, headers={**HTMX, "HX-Target": "conn-options"}
    )
    assert "No connection that is not enabled here matches “&lt;b&gt;nothing”" in text(r)


@pytest.mark.parametrize(
    ("name", "button", "signup"),
    [(PARTNERS_DB, False, True), (AZURE, True, False), (GITHUB, False, False)],
)
def test_settings_step_offers_what_applies_with_defaults(
    operator_client, tenant, acme, name, button, signup
) -> None:
    operator_client.get(add_url(acme), headers=HTMX)
    connection = tenant_connection(name)
    tenant.clear_log()
    r = operator_client.get(add_url(acme), {"connection_id": connection.id}, headers=HTMX)
    body = text(r)
    assert f'<td id="conn-{connection.id}"' in body and "data-step" in body
    assert 'name="assign_membership_on_login" data-autofocus>' in body  # off
    assert ('name="show_as_button" checked>' in body) is button
    assert ('name="is_signup_enabled">' in body) is signup
    assert api_calls(tenant) == []


def test_picker_of_a_full_organization_says_so(operator_client, tenant, acme) -> None:
    for name in (PARTNERS_DB, AZURE, GITHUB, "linkedin"):
        auth0.add_enabled_connection(org_id=acme, connection_id=tenant_connection(name).id)
    body = text(operator_client.get(add_url(acme), headers=HTMX))
    assert "already has 10 enabled connections, Auth0's limit of 10" in body
    assert 'data-testid="connection-option"' not in body


# --- enable ----------------------------------------------------------------------------------


def test_enable_posts_once_and_answers_the_list_with_the_new_row(
    operator_client, tenant, acme
) -> None:
    operator_client.get(add_url(acme), headers=HTMX)  # the picker: reads and keeps
    azure = tenant_connection(AZURE)
    tenant.clear_log()
    r = operator_client.post(
        add_url(acme),
        {"connection_id": azure.id, "show_as_button": "on"},
        headers=HTMX,
    )
    body = text(r)
    assert r.status_code == 200
    assert body.lstrip().startswith('<div id="connection-list"')
    assert f'id="conn-{azure.id}"' in body and body.count('data-testid="connection-row"') == 7
    assert f"Enabled the connection {AZURE} for this organization." in body
    assert calls(tenant) == [
        ("POST", f"/api/v2/organizations/{acme}/enabled_connections"),
        ("GET", f"/api/v2/organizations/{acme}/enabled_connections"),  # the list's refresh
    ]
    assert mutations(tenant)[0]["json"] == {
        "connection_id": azure.id,
        "assign_membership_on_login": False,
        "show_as_button": True,
    }
    [entry] = entries()
    assert entry.action == Action.ENABLE_CONNECTION and entry.outcome == Outcome.SUCCESS
    assert entry.connection_id == azure.id and entry.connection_name == AZURE
    assert entry.before == {"enabled": False}
    assert entry.requested == {"assign_membership_on_login": False, "show_as_button": True}
    assert entry.after == {
        "name": AZURE,
        "strategy": "waad",
        "assign_membership_on_login": False,
        "show_as_button": True,
        "is_signup_enabled": None,
    }


def test_enable_a_database_connection_with_signup(operator_client, tenant, acme) -> None:
    db = tenant_connection(PARTNERS_DB)
    r = operator_client.post(
        add_url(acme),
        {"connection_id": db.id, "assign_membership_on_login": "on", "is_signup_enabled": "on"},
        headers=HTMX,
    )
    assert f"Enabled the connection {PARTNERS_DB}" in text(r)
    added = enabled_by_name(acme, PARTNERS_DB)
    assert (added.assign_membership_on_login, added.is_signup_enabled) == (True, True)
    assert state(entries()[0].after)["is_signup_enabled"] is True


def test_enable_without_the_picker_reads_once(operator_client, tenant, acme) -> None:
    auth0.list_connections()
    db = tenant_connection(GITHUB)
    tenant.clear_log()
    r = operator_client.post(add_url(acme), {"connection_id": db.id}, headers=HTMX)
    # the read before (the count) is the list shown after: no second read
    assert [m for m, _ in calls(tenant)] == ["GET", "POST"]
    assert text(r).count('data-testid="connection-row"') == 7


def test_the_eleventh_connection_is_refused_without_a_call(operator_client, tenant, acme) -> None:
    for name in (PARTNERS_DB, AZURE, GITHUB, "linkedin"):
        auth0.add_enabled_connection(org_id=acme, connection_id=tenant_connection(name).id)
    operator_client.get(add_url(acme), headers=HTMX)  # the picker's read: 10
    eleventh = next(
        c
        for c in auth0.list_connections()
        if c.id not in {e.connection_id for e in auth0.list_enabled_connections(org_id=acme)}
    )
    tenant.clear_log()
    r = operator_client.post(add_url(acme), {"connection_id": eleventh.id}, headers=HTMX)
    assert r.status_code == 200 and r["HX-Reswap"] == "none"
    assert "already has 10 enabled connections, Auth0&#x27;s limit of 10" in text(r)
    assert api_calls(tenant) == [] and not AuditEntry.objects.exists()


def test_auth0_refusing_an_eleventh_is_a_clear_message(operator_client, tenant, acme) -> None:
    # The picker's read said 6; meanwhile someone else filled the organization up.
    operator_client.get(add_url(acme), headers=HTMX)
    for name in (PARTNERS_DB, AZURE, GITHUB, "linkedin"):
        auth0.add_enabled_connection(org_id=acme, connection_id=tenant_connection(name).id)
    sms = tenant_connection("sms")
    tenant.clear_log()
    r = operator_client.post(add_url(acme), {"connection_id": sms.id}, headers=HTMX)
    assert "Auth0 refused to enable sms (409" in text(r) and "at most 10" in text(r)
    [entry] = entries()
    assert (entry.outcome, entry.status_code) == (Outcome.FAILED, 409)


def test_enabling_one_already_enabled_is_refused_or_explained(
    operator_client, tenant, acme
) -> None:
    saml = enabled_by_name(acme, "acme-saml")
    tenant.clear_log()
    r = operator_client.post(add_url(acme), {"connection_id": saml.connection_id}, headers=HTMX)
    assert "acme-saml is already enabled for this organization" in text(r)
    assert mutations(tenant) == []
    # The picker's read is older than the change someone else made: Auth0's 409 says it.
    operator_client.get(add_url(acme), headers=HTMX)
    azure = tenant_connection(AZURE)
    auth0.add_enabled_connection(org_id=acme, connection_id=azure.id)
    r = operator_client.post(add_url(acme), {"connection_id": azure.id}, headers=HTMX)
    assert f"The connection {AZURE} is already enabled for this organization (409" in text(r)


@pytest.mark.parametrize(
    ("name", "posted", "words"),
    [
        (AZURE, {"is_signup_enabled": "on", "assign_membership_on_login": "on"}, "database"),
        (GITHUB, {"is_signup_enabled": "on"}, "only be turned on for database connections"),
        (PARTNERS_DB, {"is_signup_enabled": "on"}, "needs membership on login"),
    ],
)
def test_signup_rules_are_refused_without_a_call(
    operator_client, tenant, acme, name, posted, words
) -> None:
    connection = tenant_connection(name)
    operator_client.get(add_url(acme), headers=HTMX)
    tenant.clear_log()
    r = operator_client.post(
        add_url(acme), {"connection_id": connection.id, **posted}, headers=HTMX
    )
    assert r.status_code == 200 and r["HX-Reswap"] == "none"
    assert words in text(r) and "Nothing was changed" in text(r)
    assert api_calls(tenant) == [] and not AuditEntry.objects.exists()


@pytest.mark.parametrize(
    ("status", "words"),
    [
        (400, "Auth0 rejected the request (400"),
        (404, "no longer exists in Auth0 (404)"),
        (429, "rate limiting"),
        (503, "503 server error"),
    ],
)
def test_auth0_errors_on_enable_become_messages(
    operator_client, tenant, acme, status, words
) -> None:
    operator_client.get(add_url(acme), headers=HTMX)
    azure = tenant_connection(AZURE)
    tenant.add_fault(method="POST", path=r"/enabled_connections$", status=status)
    r = operator_client.post(add_url(acme), {"connection_id": azure.id}, headers=HTMX)
    assert words in text(r) and r["HX-Reswap"] == "none"
    [entry] = entries()
    assert entry.outcome == Outcome.FAILED and entry.status_code == status
    assert entry.before == {"enabled": False}


def test_unknown_or_bad_connection_ids_are_refused(operator_client, tenant, acme) -> None:
    auth0.list_connections()
    operator_client.get(add_url(acme), headers=HTMX)
    tenant.clear_log()
    r = operator_client.post(add_url(acme), {"connection_id": "con_doesNotExist00"}, headers=HTMX)
    assert "does not know a connection con_doesNotExist00" in text(r)
    for bad in ["../x", "con_a?b", "", "x" * 60]:
        r = operator_client.post(add_url(acme), {"connection_id": bad}, headers=HTMX)
        assert r.status_code == 400, bad
        r = operator_client.get(add_url(acme), {"connection_id": bad or "y"}, headers=HTMX)
        assert r.status_code == 400, bad
    assert api_calls(tenant) == [] and not AuditEntry.objects.exists()


# --- edit settings ---------------------------------------------------------------------------


def test_edit_step_shows_only_what_applies_prefilled(operator_client, tenant, acme) -> None:
    db = enabled_by_name(acme, "Username-Password-Authentication")  # membership, signup on
    saml = enabled_by_name(acme, "okta-workforce")  # no membership, no button
    social = enabled_by_name(acme, "google-oauth2")
    auth0.list_connections()  # the index, as the Connections part left it
    tenant.clear_log()
    body = text(operator_client.get(settings_url(acme, db.connection_id), headers=HTMX))
    assert 'data-step data-testid="edit-settings"' in body
    assert 'name="assign_membership_on_login" data-autofocus checked>' in body
    assert 'name="is_signup_enabled" checked>' in body and "show_as_button" not in body
    body = text(operator_client.get(settings_url(acme, saml.connection_id), headers=HTMX))
    assert 'name="assign_membership_on_login" data-autofocus>' in body
    assert 'name="show_as_button">' in body and "is_signup_enabled" not in body
    body = text(operator_client.get(settings_url(acme, social.connection_id), headers=HTMX))
    assert "show_as_button" not in body and "is_signup_enabled" not in body
    assert [m for m, _ in calls(tenant)] == ["GET"] * 3  # one read each (the index is cached)


def test_save_patches_only_the_changed_keys_and_rerenders_the_row(
    operator_client, tenant, acme
) -> None:
    okta = enabled_by_name(acme, "okta-workforce")
    url = settings_url(acme, okta.connection_id)
    operator_client.get(url, headers=HTMX)
    tenant.clear_log()
    r = operator_client.post(url, {"show_as_button": "on"}, headers=HTMX)
    body = text(r)
    assert f'<tr id="conn-{okta.connection_id}" data-testid="connection-row">' in body
    assert "Saved the settings of okta-workforce here: show as button on." in body
    [patch] = api_calls(tenant)  # the edit step's read is the state before: no second read
    assert patch["method"] == "PATCH"
    assert (
        patch["raw_path"]
        == f"/api/v2/organizations/{acme}/enabled_connections/{okta.connection_id}"
    )
    assert patch["json"] == {"show_as_button": True}
    [entry] = entries()
    assert entry.action == Action.UPDATE_CONNECTION and entry.outcome == Outcome.SUCCESS
    assert entry.connection_name == "okta-workforce"
    assert (
        state(entry.before)["show_as_button"] is False and state(entry.before)["strategy"] == "okta"
    )
    assert entry.requested == {"show_as_button": True}
    assert state(entry.after)["show_as_button"] is True
    assert enabled_by_name(acme, "okta-workforce").show_as_button is True


def test_save_without_the_edit_step_reads_first(operator_client, tenant, acme) -> None:
    okta = enabled_by_name(acme, "okta-workforce")
    auth0.list_connections()
    tenant.clear_log()
    operator_client.post(
        settings_url(acme, okta.connection_id), {"assign_membership_on_login": "on"}, headers=HTMX
    )
    assert [m for m, _ in calls(tenant)] == ["GET", "PATCH"]
    assert state(entries()[0].before)["assign_membership_on_login"] is False


def test_nothing_changed_means_no_call(operator_client, tenant, acme) -> None:
    db = enabled_by_name(acme, "Username-Password-Authentication")
    url = settings_url(acme, db.connection_id)
    operator_client.get(url, headers=HTMX)
    tenant.clear_log()
    r = operator_client.post(
        url,
        {"assign_membership_on_login": "on", "is_signup_enabled": "on", "show_as_button": ""},
        headers=HTMX,
    )
    body = text(r)
    assert "Nothing to save: the settings of Username-Password-Authentication are unchanged" in body
    assert 'data-testid="connection-row"' in body
    assert api_calls(tenant) == [] and not AuditEntry.objects.exists()


@pytest.mark.parametrize(
    ("name", "posted", "words"),
    [
        # signup stays on while membership on login goes off
        ("Username-Password-Authentication", {"is_signup_enabled": "on"}, "needs membership"),
        # signup on a connection that is not a database connection (a forged post)
        (
            "acme-saml",
            {"assign_membership_on_login": "on", "is_signup_enabled": "on"},
            "only be turned on for database connections",
        ),
    ],
)
def test_signup_rules_on_save_are_refused_without_a_call(
    operator_client, tenant, acme, name, posted, words
) -> None:
    conn = enabled_by_name(acme, name)
    url = settings_url(acme, conn.connection_id)
    operator_client.get(url, headers=HTMX)
    tenant.clear_log()
    r = operator_client.post(url, posted, headers=HTMX)
    assert r.status_code == 200 and words in text(r) and r["HX-Reswap"] == "none"
    assert api_calls(tenant) == [] and not AuditEntry.objects.exists()


def test_auth0_400_on_save_is_shown_and_audited(operator_client, tenant, acme) -> None:
    okta = enabled_by_name(acme, "okta-workforce")
    url = settings_url(acme, okta.connection_id)
    operator_client.get(url, headers=HTMX)
    tenant.add_fault(
        method="PATCH",
        path=r"/enabled_connections/con_",
        status=400,
        body={
            "statusCode": 400,
            "error": "Bad Request",
            "message": "Auth0 disagrees.",
            "errorCode": "invalid_body",
        },
    )
    r = operator_client.post(url, {"show_as_button": "on"}, headers=HTMX)
    assert "Auth0 rejected the request (400 invalid_body): Auth0 disagrees" in text(r)
    [entry] = entries()
    assert (entry.outcome, entry.status_code) == (Outcome.FAILED, 400)
    assert state(entry.before)["show_as_button"] is False


def test_save_of_a_connection_removed_meanwhile_drops_the_row(
    operator_client, tenant, acme
) -> None:
    okta = enabled_by_name(acme, "okta-workforce")
    url = settings_url(acme, okta.connection_id)
    operator_client.get(url, headers=HTMX)
    auth0.remove_enabled_connection(org_id=acme, connection_id=okta.connection_id)
    r = operator_client.post(url, {"show_as_button": "on"}, headers=HTMX)
    assert "no longer exists in this organization (404)" in text(r)
    assert entries()[0].status_code == 404


# --- permissions -----------------------------------------------------------------------------


def test_viewer_is_refused_everything(viewer_client, tenant, acme) -> None:
    okta = enabled_by_name(acme, "okta-workforce")
    azure = tenant_connection(AZURE)
    tenant.clear_log()
    for method, url, data in [
        ("get", add_url(acme), {}),
        ("get", add_url(acme), {"connection_id": azure.id}),
        ("post", add_url(acme), {"connection_id": azure.id}),
        ("get", settings_url(acme, okta.connection_id), {}),
        ("post", settings_url(acme, okta.connection_id), {"show_as_button": "on"}),
    ]:
        r = getattr(viewer_client, method)(url, data, headers=HTMX)
        assert r.status_code == 403, (method, url)
    assert api_calls(tenant) == [] and not AuditEntry.objects.exists()


def test_wrong_methods_are_refused(operator_client, tenant, acme) -> None:
    okta = enabled_by_name(acme, "okta-workforce")
    assert operator_client.delete(add_url(acme)).status_code == 405
    assert operator_client.put(settings_url(acme, okta.connection_id)).status_code == 405
