"""Bulk changes from the members part (orgs/bulk.py, issue #15 items 1 and 2): the panel, the
confirm step (count, roles by name, estimate; nothing sent), starting the job, the export;
operators only, CSRF, ids from the browser checked."""

from __future__ import annotations

import pytest
from django.test import Client

from adminsite import auth0
from adminsite.jobs.models import Job, Kind
from orgs import names
from tests.helpers import HTMX, mutations, org_id


@pytest.fixture
def acme(tenant) -> str:
    return org_id("acme")


@pytest.fixture
def members(acme) -> list[auth0.Member]:
    return auth0.list_members(org_id=acme, take=5).members


@pytest.fixture
def role(tenant) -> auth0.Role:
    roles = auth0.list_roles(per_page=50)
    names.remember(roles=roles)
    return roles[0]


def _review(client, acme: str, **data):
    return client.post(f"/orgs/{acme}/members/bulk/review/", data, headers=HTMX)


def test_rows_have_a_checkbox_for_operators_only(operator_client, viewer, acme) -> None:
    body = operator_client.get(f"/orgs/{acme}/members/", headers=HTMX).content.decode()
    assert 'data-testid="select-page"' in body
    rows = body.count('data-testid="member-row"')
    assert rows > 10 and body.count('form="bulk-form" data-bulk-pick') == rows
    viewer_client = Client()
    viewer_client.force_login(viewer)
    body = viewer_client.get(f"/orgs/{acme}/members/", headers=HTMX).content.decode()
    assert "data-bulk-pick" not in body and "select-page" not in body
    page = viewer_client.get(f"/orgs/{acme}/").content.decode()
    assert "Bulk change…" not in page and "Export members" not in page


def test_the_panel_lists_roles(operator_client, acme, role) -> None:
    r = operator_client.get(f"/orgs/{acme}/members/bulk/form/", headers=HTMX)
    body = r.content.decode()
    assert 'id="bulk-form"' in body and role.name in body and 'name="lines"' in body


def test_review_then_start(operator_client, tenant, acme, members, role) -> None:
    tenant.clear_log()
    picked = [m.user_id for m in members[:3]]
    r = _review(
        operator_client,
        acme,
        action="assign_roles",
        roles=[role.id],
        pick=picked,
        lines=f"{members[3].email}\n{picked[0]}\n<b>nope</b>\n\n",
    )
    body = r.content.decode()
    assert r.status_code == 200 and 'data-testid="bulk-confirm"' in body
    assert "Assign roles: 4 members in" in body
    assert role.name in body and "about" in body
    assert "will be looked up" not in body  # looked up on the confirm step already
    assert "&lt;b&gt;nope&lt;/b&gt;" in body and "<b>nope" not in body
    assert mutations(tenant) == [] and Job.objects.count() == 0  # nothing started yet
    token = body.split('name="review" value="')[1].split('"')[0]
    r = operator_client.post(f"/orgs/{acme}/members/bulk/", {"review": token}, headers=HTMX)
    job = Job.objects.get()
    assert r.status_code == 200 and r["HX-Redirect"] == f"/jobs/{job.pk}/"
    assert (job.kind, job.total, job.params["roles"]) == (
        Kind.ASSIGN_ROLES,
        4,
        [{"id": role.id, "name": role.name}],
    )
    items = list(job.items.order_by("position"))
    assert [i.subject for i in items] == [*picked, members[3].user_id]
    assert items[3].label == (members[3].name or members[3].email)
    # the token is used up
    r = operator_client.post(f"/orgs/{acme}/members/bulk/", {"review": token}, headers=HTMX)
    assert r.status_code == 400 and Job.objects.count() == 1


def test_every_member(operator_client, tenant, acme, role) -> None:
    form = operator_client.get(f"/orgs/{acme}/members/bulk/form/", headers=HTMX).content.decode()
    assert f"All {len(tenant.store.members[acme])} members of this organization" in form
    body = _review(operator_client, acme, action="remove_roles", roles=[role.id], all="1")
    text = body.content.decode()
    members = len(tenant.store.members[acme])
    name = auth0.get_organization(org_id=acme).display_name
    assert f"every member of {name} ({members})?" in text
    assert "a thousand members" not in text and "about" in text  # counted: the estimate is
    token = text.split('name="review" value="')[1].split('"')[0]
    operator_client.post(f"/orgs/{acme}/members/bulk/", {"review": token}, headers=HTMX)
    job = Job.objects.get()
    assert job.params["all_members"] is True and job.total == 0


def test_every_member_when_auth0_does_not_count(operator_client, tenant, acme, role, monkeypatch):
    monkeypatch.setattr(auth0, "count_members", lambda **_: None)
    r = _review(operator_client, acme, action="remove_roles", roles=[role.id], all="1")
    assert "a thousand members" in r.content.decode()


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"action": "assign_roles", "pick": ["auth0|x"]}, "Choose at least one role"),
        ({"action": "nothing", "pick": ["auth0|x"]}, "Choose what to do"),
        ({"action": "remove_members"}, "Choose at least one member"),
        ({"action": "remove_members", "pick": ["auth0|a\x01b"]}, "not an Auth0 user id"),
        ({"action": "assign_roles", "roles": ["nope"], "pick": ["auth0|x"]}, "role id"),
        ({"action": "add_members", "all": "1"}, "not as “every member”"),
        ({"action": "remove_members", "lines": "a@b.example\n" * 3 + "x\n" * 10_001}, "10,000"),
    ],
)
def test_review_refuses(operator_client, tenant, acme, data, says) -> None:
    r = _review(operator_client, acme, **data)
    assert r.status_code == 400
    assert says in r.content.decode()
    assert Job.objects.count() == 0


def test_viewers_and_missing_csrf_are_refused(viewer_client, operator, acme, role) -> None:
    data = {"action": "remove_members", "pick": ["auth0|x"]}
    assert _review(viewer_client, acme, **data).status_code == 403
    assert viewer_client.post(f"/orgs/{acme}/members/bulk/", {"review": "x"}).status_code == 403
    assert viewer_client.post(f"/orgs/{acme}/members/export/").status_code == 403
    assert viewer_client.get(f"/orgs/{acme}/members/bulk/form/", headers=HTMX).status_code == 403
    csrf = Client(enforce_csrf_checks=True)
    csrf.force_login(operator)
    assert csrf.post(f"/orgs/{acme}/members/bulk/review/", data).status_code == 403
    assert csrf.post(f"/orgs/{acme}/members/export/").status_code == 403
    assert Job.objects.count() == 0


def test_a_token_is_its_authors_and_its_organizations(operator_client, tenant, acme, role):
    r = _review(operator_client, acme, action="remove_members", pick=["auth0|x"])
    token = r.content.decode().split('name="review" value="')[1].split('"')[0]
    other = org_id("big-co")
    r = operator_client.post(f"/orgs/{other}/members/bulk/", {"review": token}, headers=HTMX)
    assert r.status_code == 400 and Job.objects.count() == 0


def test_export_button_starts_an_export(operator_client, acme) -> None:
    r = operator_client.post(f"/orgs/{acme}/members/export/")
    job = Job.objects.get()
    assert (
        job.kind == Kind.EXPORT_MEMBERS
        and job.org_name == auth0.get_organization(org_id=acme).display_name
    )
    assert r.status_code == 302 and r["Location"] == f"/jobs/{job.pk}/"


def test_pasted_lines_are_looked_up_on_the_confirm_step(operator_client, tenant, acme, role):
    shared = "sam.lee@shared.example"  # several accounts have it
    member = auth0.list_members(org_id=acme, take=1).members[0]
    lines = [member.email, "nobody@nowhere.example", "auth0|nobody", shared, member.user_id]
    tenant.clear_log()
    r = _review(operator_client, acme, action="remove_members", lines="\n".join(lines))
    body = r.content.decode()
    assert "Remove from the organization: 1 member in" in body
    assert body.count("<li><code>") == 3
    assert 'data-testid="bulk-not-found"' in body and "auth0|nobody" in body
    assert 'data-testid="bulk-ambiguous"' in body and shared in body
    assert mutations(tenant) == []
    token = body.split('name="review" value="')[1].split('"')[0]
    operator_client.post(f"/orgs/{acme}/members/bulk/", {"review": token}, headers=HTMX)
    assert list(Job.objects.get().items.values_list("subject", flat=True)) == [member.user_id]


def test_nobody_resolves(operator_client, tenant, acme) -> None:
    r = _review(operator_client, acme, action="remove_members", lines="nobody@nowhere.example")
    body = r.content.decode()
    assert "Nobody to change" in body and "Start the job" not in body and "Close" in body


def test_more_lines_than_looked_up_now_go_to_the_job(operator_client, tenant, acme) -> None:
    lines = "\n".join(f"person{i}@nowhere.example" for i in range(51))
    tenant.clear_log()
    body = _review(operator_client, acme, action="remove_members", lines=lines).content.decode()
    assert "51 emails will be looked up first" in body
    assert not [r for r in tenant.requests_log if "users-by-email" in r["raw_path"]]
