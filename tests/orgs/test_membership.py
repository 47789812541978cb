"""Adding members (review, confirm, roles), removing a member, restoring one from the audit log,
through the views: upstream calls, audit entries, refusals and hostile input."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import pytest
from django.urls import reverse

from adminsite import auth0
from adminsite.audit.models import Action, AuditEntry, Outcome
from orgs import membership, names
from tests.helpers import HTMX, api_calls, mutations, org_id

SAM = "sam.lee@shared.example"  # two accounts (a database one and a Google one)
ALICE = "auth0|63d16bb11e39d8a43b8ed0f5"  # a member of Acme with 2 roles


@pytest.fixture
def acme(tenant) -> str:
    return org_id("acme")


@pytest.fixture
def outsiders(tenant) -> list[auth0.Member]:
    """People of the tenant who are not members of Acme (members of big-co)."""
    return auth0.list_members(org_id=org_id("big-co"), take=5).members


def _roles(n: int) -> list[auth0.Role]:
    return auth0.list_roles(per_page=50)[:n]


def _review(client, acme: str, lines: list[str], roles: Sequence[str] = ()) -> str:
    r = client.post(
        reverse("orgs:add-members-review", args=[acme]),
        {"lines": "\n".join(lines), "roles": list(roles)},
        headers=HTMX,
    )
    assert r.status_code == 200, r.content
    return r.content.decode()


def _token(body: str) -> str:
    found = re.search(r'name="review" value="([0-9a-f]{32})"', body)
    assert found is not None
    return found.group(1)


def _member_ids(acme: str) -> set[str]:
    return {m.user_id for m in auth0.list_members(org_id=acme).members}


# --- Adding --------------------------------------------------------------------------------------


def test_add_form_reads_the_roles_once(operator_client, tenant, acme) -> None:
    first = _roles(1)[0]
    tenant.clear_log()
    r = operator_client.get(reverse("orgs:add-members-form", args=[acme]), headers=HTMX)
    body = r.content.decode()
    assert 'data-testid="add-members-form"' in body and 'name="lines"' in body
    assert first.name in body
    [call] = api_calls(tenant)
    assert call["raw_path"].endswith("/roles")


def test_add_by_email_and_id_with_roles(operator_client, tenant, acme, outsiders) -> None:
    a, b = outsiders[0], outsiders[1]
    roles = _roles(2)
    operator_client.get(reverse("orgs:add-members-form", args=[acme]), headers=HTMX)  # names
    tenant.clear_log()
    body = _review(operator_client, acme, [a.email, b.user_id], [r.id for r in roles])
    assert len(api_calls(tenant)) == 2  # one lookup a line
    assert not mutations(tenant)
    for person in (a, b):
        assert person.email in body and person.name in body
    assert roles[0].name in body and roles[1].name in body
    assert body.count('name="user_id"') == 2 and body.count("checked") == 2

    tenant.clear_log()
    r = operator_client.post(
        reverse("orgs:add-members", args=[acme]),
        {"review": _token(body), "user_id": [a.user_id, b.user_id]},
        headers=HTMX,
    )
    page = r.content.decode()
    assert r.status_code == 200
    calls = api_calls(tenant)
    assert [c["method"] for c in calls] == ["POST", "POST", "POST", "GET"]  # add, 2× roles, list
    assert calls[0]["json"] == {"members": [a.user_id, b.user_id]}
    assert calls[1]["json"] == {"roles": [roles[0].id, roles[1].id]}
    assert 'id="member-list"' in page and 'id="add-members" hx-swap-oob="true"' in page
    assert "Added " in page and a.name in page
    assert {a.user_id, b.user_id} <= _member_ids(acme) or a.user_id in page
    assert {x.id for x in auth0.get_member_roles(org_id=acme, user_id=a.user_id)} == {
        x.id for x in roles
    }
    entry = AuditEntry.objects.get(action=Action.ADD_MEMBERS)
    assert entry.outcome == Outcome.SUCCESS
    assert [p["user_id"] for p in entry.requested["members"]] == [a.user_id, b.user_id]
    assert entry.requested["members"][0]["name"] == a.name  # as Auth0 gave it
    assert [r["name"] for r in entry.roles] == [roles[0].name, roles[1].name]
    assert isinstance(entry.after, dict)
    assert entry.after["batches"] == [{"members": [a.user_id, b.user_id], "outcome": "added"}]
    assert entry.after["roles_not_given"] == []


def test_audit_entry_is_written_before_the_call(operator_client, tenant, acme, outsiders) -> None:
    body = _review(operator_client, acme, [outsiders[0].user_id])
    tenant.add_fault(method="POST", path=r"/members$", status=503)
    r = operator_client.post(
        reverse("orgs:add-members", args=[acme]),
        {"review": _token(body), "user_id": [outsiders[0].user_id]},
        headers=HTMX,
    )
    assert r.headers.get("HX-Reswap") == "none"
    assert "reload to check whether the change reached Auth0" in r.content.decode()
    entry = AuditEntry.objects.get(action=Action.ADD_MEMBERS)
    assert entry.outcome == Outcome.FAILED and entry.status_code == 503
    assert entry.member_id == outsiders[0].user_id


def test_roles_that_fail_are_reported_per_person(operator_client, tenant, acme, outsiders) -> None:
    a, b = outsiders[0], outsiders[1]
    role = _roles(1)[0]
    body = _review(operator_client, acme, [a.user_id, b.user_id], [role.id])
    tenant.add_fault(method="POST", path=r"/roles$", status=400, times=1)
    r = operator_client.post(
        reverse("orgs:add-members", args=[acme]),
        {"review": _token(body), "user_id": [a.user_id, b.user_id]},
        headers=HTMX,
    )
    page = r.content.decode()
    assert "message-warning" in page
    assert "Gave the roles" in page and "to 1 of 2" in page
    assert "The roles were not given to" in page
    entry = AuditEntry.objects.get(action=Action.ADD_MEMBERS)
    assert entry.outcome == Outcome.SUCCESS
    assert isinstance(entry.after, dict)
    [failed] = entry.after["roles_not_given"]
    assert failed["user_id"] == a.user_id and "400" in failed["why"]


def test_a_rate_limit_stops_giving_roles(operator_client, tenant, acme, outsiders) -> None:
    a, b = outsiders[0], outsiders[1]
    body = _review(operator_client, acme, [a.user_id, b.user_id], [_roles(1)[0].id])
    tenant.add_fault(method="POST", path=r"/roles$", status=429, times=1)
    tenant.clear_log()
    r = operator_client.post(
        reverse("orgs:add-members", args=[acme]),
        {"review": _token(body), "user_id": [a.user_id, b.user_id]},
        headers=HTMX,
    )
    assert "to 0 of 2" in r.content.decode()
    assert len([c for c in mutations(tenant) if c["raw_path"].endswith("/roles")]) == 1


def test_added_message_says_how_many_of_how_many() -> None:
    people = {f"u|{i}": membership.Person(f"u|{i}", f"P{i}", f"p{i}@x.example") for i in range(8)}
    ids = tuple(people)
    batches = auth0.MemberBatches(
        ids,
        ids[:7],
        (auth0.BatchFailure(ids[7:], auth0.NotFound("No such user", status_code=404)),),
        (),
    )
    text = membership.added_message(people, membership.Added(batches), [])
    assert text.startswith("Added 7 of 8: ")
    assert "Not added: P7 (p7@x.example · u|7) (Auth0 answered 404: No such user)." in text


def test_an_email_with_several_accounts_ticks_none(operator_client, tenant, acme) -> None:
    accounts = auth0.users_by_email(email=SAM)
    assert len(accounts) == 2
    body = _review(operator_client, acme, [SAM])
    assert body.count('name="user_id"') == 2
    assert " checked" not in body  # the operator picks the account
    assert 'data-testid="add-ambiguous"' in body
    for account in accounts:
        assert account.user_id in body


def test_members_already_listed_are_not_sent(operator_client, tenant, acme, outsiders) -> None:
    operator_client.get(reverse("orgs:members", args=[acme]), headers=HTMX)  # lists Alice
    tenant.clear_log()
    body = _review(operator_client, acme, [ALICE, outsiders[0].user_id])
    already = body.split('data-testid="add-members-already"')[1]
    assert ALICE in already
    assert f'value="{ALICE}">' in already  # tickable, not ticked
    token = _token(body)
    r = operator_client.post(
        reverse("orgs:add-members", args=[acme]),
        {"review": token, "user_id": [outsiders[0].user_id]},  # as ticked
        headers=HTMX,
    )
    assert r.status_code == 200
    [add] = mutations(tenant)
    assert add["json"] == {"members": [outsiders[0].user_id]}


def test_lines_not_found_and_hostile_lines(operator_client, tenant, acme) -> None:
    hostile = "<script>alert(1)</script>"
    bad_id = "x|<img src=x onerror=alert(1)>"
    tenant.clear_log()
    body = _review(operator_client, acme, [hostile, "nobody@nowhere.example", bad_id, "\u202eab"])
    assert "<script>" not in body and "<img" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert 'data-testid="add-not-found"' in body and 'data-testid="add-unreadable"' in body
    assert "nobody@nowhere.example" in body
    calls = api_calls(tenant)
    assert len(calls) == 2  # the email and the user id; the other lines were never sent
    assert not any("script" in (c["query"] + c["raw_path"]) for c in calls)
    assert 'name="review"' in body and 'value=""' in body  # nothing to confirm
    assert "Add the ticked people" not in body


def test_more_than_fifty_lines_is_refused_without_a_call(operator_client, tenant, acme) -> None:
    tenant.clear_log()
    lines = [f"person{i}@example.com" for i in range(51)]
    r = operator_client.post(
        reverse("orgs:add-members-review", args=[acme]), {"lines": "\n".join(lines)}, headers=HTMX
    )
    assert r.status_code == 400
    assert "Paste at most 50 emails or user ids at a time (you pasted 51)" in r.content.decode()
    assert api_calls(tenant) == []


def test_confirm_sends_only_people_from_the_review(
    operator_client, tenant, acme, outsiders
) -> None:
    body = _review(operator_client, acme, [outsiders[0].user_id])
    tenant.clear_log()
    r = operator_client.post(
        reverse("orgs:add-members", args=[acme]),
        {"review": _token(body), "user_id": [outsiders[1].user_id]},  # not in the review
        headers=HTMX,
    )
    assert r.status_code == 400 and "tick people from the list" in r.content.decode()
    assert api_calls(tenant) == [] and not AuditEntry.objects.exists()
    # a review is confirmed once: it was spent by that attempt
    r = operator_client.post(
        reverse("orgs:add-members", args=[acme]),
        {"review": _token(body), "user_id": [outsiders[0].user_id]},
        headers=HTMX,
    )
    assert r.status_code == 400 and "expired or was used already" in r.content.decode()
    assert api_calls(tenant) == [] and not AuditEntry.objects.exists()


def test_a_review_confirmed_twice_at_once_adds_once(
    operator_client, tenant, acme, outsiders, monkeypatch
) -> None:
    """Two confirms at the same moment (a double click, two instances) both read the review
    before either forgets it: only the one whose delete removed it adds anybody (on Redis the
    read and the delete are one MULTI/EXEC; here, the local cache, two steps)."""
    person = outsiders[0].user_id
    token = _token(_review(operator_client, acme, [person]))
    tenant.clear_log()
    real_get = membership.cache.get_many
    answers: list[Any] = []

    def get_then_race(keys, version=None):
        value = real_get(keys, version)
        if any(k.startswith("orgs:add-review:") for k in keys) and not answers:
            answers.append(None)  # the first confirm has read it: the second comes in now
            answers[0] = operator_client.post(
                reverse("orgs:add-members", args=[acme]),
                {"review": token, "user_id": [person]},
                headers=HTMX,
            )
        return value

    monkeypatch.setattr(membership.cache, "get_many", get_then_race)
    first = operator_client.post(
        reverse("orgs:add-members", args=[acme]),
        {"review": token, "user_id": [person]},
        headers=HTMX,
    )
    statuses = sorted([first.status_code, answers[0].status_code])
    assert statuses == [200, 400]
    refused = first if first.status_code == 400 else answers[0]
    assert "expired or was used already" in refused.content.decode()
    assert [m["method"] for m in mutations(tenant)] == ["POST"]
    assert person in _member_ids(acme)
    assert AuditEntry.objects.filter(action=Action.ADD_MEMBERS).count() == 1


@pytest.mark.parametrize(
    "data",
    [{}, {"review": "nothex", "user_id": ["a|b"]}, {"review": "0" * 32, "user_id": ["\x00"]}],
)
def test_bad_confirms_are_refused(operator_client, tenant, acme, data) -> None:
    tenant.clear_log()
    r = operator_client.post(reverse("orgs:add-members", args=[acme]), data, headers=HTMX)
    assert r.status_code == 400
    assert api_calls(tenant) == [] and not AuditEntry.objects.exists()


def test_review_reports_auth0_errors(operator_client, tenant, acme) -> None:
    tenant.add_fault(path=r"/users-by-email", status=429)
    r = operator_client.post(
        reverse("orgs:add-members-review", args=[acme]),
        {"lines": "jane.doe@acme.example"},
        headers=HTMX,
    )
    assert r.headers.get("HX-Reswap") == "none" and "429" in r.content.decode()


def test_cancel_closes_the_panel_and_refocuses_the_opener(operator_client, tenant, acme) -> None:
    tenant.clear_log()
    r = operator_client.get(
        reverse("orgs:add-members-form", args=[acme]) + "?cancel=1", headers=HTMX
    )
    body = r.content.decode()
    assert '<div id="add-members"></div>' in body
    assert 'id="add-members-open"' in body and "autofocus" in body
    assert api_calls(tenant) == []


# --- Removing -----------------------------------------------------------------------------------


def test_remove_confirms_then_deletes(operator_client, tenant, acme) -> None:
    operator_client.get(reverse("orgs:members", args=[acme]), headers=HTMX)  # names
    held = auth0.get_member_roles(org_id=acme, user_id=ALICE)
    tenant.clear_log()
    url = reverse("orgs:remove-member", args=[acme])
    confirm = operator_client.get(url, {"user_id": ALICE}, headers=HTMX).content.decode()
    assert 'data-testid="confirm-remove-member"' in confirm and "data-step" in confirm
    assert "Alice Martin" in confirm and "alice.martin@acme.example" in confirm
    assert "lose access through this organization" in confirm
    for role in held:
        assert role.name in confirm
    assert len(api_calls(tenant)) == 1  # the roles, read once

    tenant.clear_log()
    r = operator_client.post(url, {"user_id": ALICE}, headers=HTMX)
    body = r.content.decode()
    assert r.status_code == 200 and "member-row" not in body  # the row goes
    assert "Removed Alice Martin" in body
    [delete] = api_calls(tenant)  # the confirm step's read is the before-state
    assert delete["method"] == "DELETE" and delete["json"] == {"members": [ALICE]}
    assert ALICE not in _member_ids(acme)
    entry = AuditEntry.objects.get(action=Action.REMOVE_MEMBER)
    assert entry.outcome == Outcome.SUCCESS and entry.member_id == ALICE
    assert entry.before == {"roles": [{"id": r.id, "name": r.name} for r in held]}
    assert entry.member_name == "Alice Martin"


def test_remove_without_confirm_reads_the_roles_first(operator_client, tenant, acme) -> None:
    tenant.clear_log()
    operator_client.post(
        reverse("orgs:remove-member", args=[acme]), {"user_id": ALICE}, headers=HTMX
    )
    assert [c["method"] for c in api_calls(tenant)] == ["GET", "DELETE"]
    before = AuditEntry.objects.get(action=Action.REMOVE_MEMBER).before
    assert isinstance(before, dict) and before["roles"]


def test_cancel_renders_the_row_without_a_call(operator_client, tenant, acme) -> None:
    operator_client.get(reverse("orgs:members", args=[acme]), headers=HTMX)
    operator_client.get(
        reverse("orgs:remove-member", args=[acme]), {"user_id": ALICE}, headers=HTMX
    )
    tenant.clear_log()
    r = operator_client.get(
        reverse("orgs:member-row", args=[acme]), {"user_id": ALICE}, headers=HTMX
    )
    body = r.content.decode()
    assert 'data-testid="member-row"' in body and "Alice Martin" in body and "Remove…" in body
    assert api_calls(tenant) == []


def test_remove_failure_is_audited_and_reported(operator_client, tenant, acme) -> None:
    operator_client.get(
        reverse("orgs:remove-member", args=[acme]), {"user_id": ALICE}, headers=HTMX
    )
    tenant.add_fault(method="DELETE", status=403)
    r = operator_client.post(
        reverse("orgs:remove-member", args=[acme]), {"user_id": ALICE}, headers=HTMX
    )
    assert r.headers.get("HX-Reswap") == "none"
    entry = AuditEntry.objects.get(action=Action.REMOVE_MEMBER)
    assert entry.outcome == Outcome.FAILED and entry.status_code == 403
    assert ALICE in _member_ids(acme)


def test_removing_someone_who_is_not_a_member_drops_the_row(
    operator_client, tenant, acme, outsiders
) -> None:
    r = operator_client.get(
        reverse("orgs:remove-member", args=[acme]), {"user_id": outsiders[0].user_id}, headers=HTMX
    )
    assert r.status_code == 200 and "is not a member of this organization" in r.content.decode()
    assert not AuditEntry.objects.exists()


# --- Restoring ----------------------------------------------------------------------------------


def test_restore_adds_the_member_back_with_their_roles(operator_client, tenant, acme) -> None:
    operator_client.get(reverse("orgs:members", args=[acme]), headers=HTMX)
    held = auth0.get_member_roles(org_id=acme, user_id=ALICE)
    operator_client.post(
        reverse("orgs:remove-member", args=[acme]), {"user_id": ALICE}, headers=HTMX
    )
    removal = AuditEntry.objects.get(action=Action.REMOVE_MEMBER)
    detail = operator_client.get(removal.get_absolute_url()).content.decode()
    assert "Restore the member" in detail and "Alice Martin" in detail
    tenant.clear_log()
    r = operator_client.post(reverse("audit:restore", args=[removal.pk]), follow=True)
    body = r.content.decode()
    assert "Restored Alice Martin" in body
    calls = mutations(tenant)
    assert [c["method"] for c in calls] == ["POST", "POST"]
    assert calls[0]["json"] == {"members": [ALICE]}
    assert calls[1]["json"] == {"roles": [r.id for r in held]}
    assert {r.id for r in auth0.get_member_roles(org_id=acme, user_id=ALICE)} == {
        r.id for r in held
    }
    restore = AuditEntry.objects.get(action=Action.RESTORE_MEMBER)
    assert restore.restores_id == removal.pk and restore.outcome == Outcome.SUCCESS
    tenant.clear_log()
    again = operator_client.post(reverse("audit:restore", args=[removal.pk]), follow=True)
    assert "already restored" in again.content.decode() and mutations(tenant) == []


def test_failed_removals_are_not_restorable(operator_client, tenant, acme) -> None:
    tenant.add_fault(method="DELETE", status=503)
    operator_client.post(
        reverse("orgs:remove-member", args=[acme]), {"user_id": ALICE}, headers=HTMX
    )
    removal = AuditEntry.objects.get(action=Action.REMOVE_MEMBER)
    assert not removal.is_restorable


# --- Who may ------------------------------------------------------------------------------------

ROUTES = [
    ("get", "orgs:add-members-form", {}),
    ("post", "orgs:add-members-review", {"lines": "jane.doe@acme.example"}),
    ("post", "orgs:add-members", {"review": "0" * 32, "user_id": [ALICE]}),
    ("get", "orgs:remove-member", {"user_id": ALICE}),
    ("post", "orgs:remove-member", {"user_id": ALICE}),
]


@pytest.mark.parametrize(("method", "name", "data"), ROUTES)
def test_viewers_are_refused(viewer_client, tenant, acme, method, name, data) -> None:
    tenant.clear_log()
    r = getattr(viewer_client, method)(reverse(name, args=[acme]), data, headers=HTMX)
    assert r.status_code == 403
    assert api_calls(tenant) == [] and not AuditEntry.objects.exists()


def test_viewers_see_no_controls(viewer_client, tenant, acme) -> None:
    page = viewer_client.get(reverse("orgs:detail", args=[acme])).content.decode()
    members = viewer_client.get(reverse("orgs:members", args=[acme]), headers=HTMX)
    assert "Add members…" not in page and 'id="add-members"' not in page
    assert "Remove…" not in members.content.decode()


def test_operators_see_the_controls(operator_client, tenant, acme) -> None:
    page = operator_client.get(reverse("orgs:detail", args=[acme])).content.decode()
    members = operator_client.get(reverse("orgs:members", args=[acme]), headers=HTMX)
    assert "Add members…" in page and '<div id="add-members"></div>' in page
    assert members.content.decode().count("Remove…") == len(_member_ids(acme))


def test_a_removed_member_is_no_longer_counted_as_one(operator_client, tenant, acme) -> None:
    operator_client.get(reverse("orgs:members", args=[acme]), headers=HTMX)
    assert 'data-testid="add-members-already"' in _review(operator_client, acme, [ALICE])
    operator_client.post(
        reverse("orgs:remove-member", args=[acme]), {"user_id": ALICE}, headers=HTMX
    )
    body = _review(operator_client, acme, [ALICE])
    assert 'data-testid="add-members-already"' not in body
    assert f'value="{ALICE}" checked' in body


def test_more_than_ten_people_are_added_in_batches_of_ten(operator_client, tenant, acme) -> None:
    people = auth0.list_members(org_id=org_id("big-co"), take=23).members
    ids = [p.user_id for p in people]
    tenant.clear_log()
    body = _review(operator_client, acme, ids)
    assert len(api_calls(tenant)) == 23 and not mutations(tenant)  # one lookup a line
    assert body.count('name="user_id"') == 23

    tenant.clear_log()
    r = operator_client.post(
        reverse("orgs:add-members", args=[acme]),
        {"review": _token(body), "user_id": ids},
        headers=HTMX,
    )
    assert r.status_code == 200
    posts = [c["json"]["members"] for c in api_calls(tenant) if c["method"] == "POST"]
    assert posts == [ids[:10], ids[10:20], ids[20:]]  # Auth0 takes 10 a call
    assert set(ids) <= _member_ids(acme)
    entry = AuditEntry.objects.get(action=Action.ADD_MEMBERS)
    assert entry.outcome == Outcome.SUCCESS and isinstance(entry.after, dict)
    assert [b["outcome"] for b in entry.after["batches"]] == ["added"] * 3


def test_listing_members_writes_no_session_and_keeps_each_organization(
    operator_client, tenant, acme
) -> None:
    """Who was listed as a member is kept per organization with the names index (one cache
    read and write with the names), not in the session: looking at another organization's
    members forgets nothing, and a members page seen before saves no session (a new page saves
    only the pager's way back, orgs/paging.py)."""
    big = org_id("big-co")
    for org in (acme, big):
        operator_client.get(reverse("orgs:members", args=[org]), headers=HTMX)
    for org in (acme, big, acme):
        r = operator_client.get(reverse("orgs:members", args=[org]), headers=HTMX)
        assert r.status_code == 200 and "sessionid" not in r.cookies
    listed = {m.user_id for m in auth0.list_members(org_id=acme, take=50).members}
    assert listed and listed <= names.members_seen(acme)
    assert names.members_seen(big) and not names.members_seen(big) & listed
