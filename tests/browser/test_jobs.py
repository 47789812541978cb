"""Jobs in the browser (issue #15 item 5), on the sandbox over HTTP: watching a job's bar move,
cancelling it with the keyboard (it stops after the item in flight), retrying what was not
sent, downloading an export, and a running job's bar on the organization's page.

The job is run the way the worker runs it (`services.run`, the task's body), in a thread of
the test so that the page can be watched while it runs."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import connection
from playwright.sync_api import Page, expect

from adminsite import auth0
from adminsite.jobs import services
from adminsite.jobs.models import Job, Kind, Status
from tests.browser.helpers import htmx_idle, message, press_until
from tests.helpers import org_id

pytestmark = pytest.mark.browser


@contextmanager
def running(job: Job) -> Iterator[threading.Thread]:
    """The job run by a worker-like thread while the block watches it."""

    def work() -> None:
        try:
            services.run(str(job.pk))
        finally:
            connection.close()

    thread = threading.Thread(target=work, daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        thread.join(timeout=60)


def _value(page: Page) -> int:
    return int(page.locator("#job-progress progress").get_attribute("value") or 0)


def _role_job(operator, settings, members: int) -> tuple[Job, auth0.Role, list[str]]:
    # 1 burst, 150 a minute: one member every 0.4 s, slow enough to watch and to cancel
    settings.JOBS_RATE_LIMITS = {**settings.JOBS_RATE_LIMITS, "member_roles": (1, 150)}
    settings.JOBS_PAGE_RESERVE = 0
    big = org_id("big-co")
    people = [m.user_id for m in auth0.list_members(org_id=big, take=members).members]
    role = auth0.list_roles(per_page=50)[0]
    job = services.create(
        kind=Kind.ASSIGN_ROLES,
        org_id=big,
        org_name="Big Co",
        user=operator,
        subjects=people,
        roles=[{"id": role.id, "name": role.name}],
    )
    return job, role, people


def test_watch_the_bar_move_cancel_then_retry(
    operator_page: Page, site: str, http_tenant, operator, settings
) -> None:
    page = operator_page
    job, role, people = _role_job(operator, settings, 30)
    page.get_by_test_id("nav-jobs").click()
    link = page.get_by_test_id("job-row").first.get_by_role("link", name="Assign roles")
    press_until(page, "Tab", link)
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("job-title")).to_have_text("Assign roles in Big Co")
    expect(page.get_by_test_id("job-status")).to_have_text("Queued")
    expect(page.locator("#job-progress progress")).to_have_attribute("max", "30")

    with running(job):
        expect(page.get_by_test_id("job-status")).to_have_text("Running")
        page.wait_for_function(
            "() => Number(document.querySelector('#job-progress progress').value) >= 2"
        )
        first = _value(page)
        page.wait_for_function(
            f"() => Number(document.querySelector('#job-progress progress').value) > {first}"
        )
        expect(page.get_by_test_id("job-counts")).to_contain_text("a minute")
        expect(page.get_by_test_id("job-counts")).to_contain_text("left")
        press_until(page, "Tab", page.get_by_test_id("job-cancel"))
        page.keyboard.press("Enter")
        expect(message(page)).to_contain_text("Cancelling: the job stops after the item")

    job.refresh_from_db()
    assert job.status == Status.CANCELLED and 0 < job.done < 30
    expect(page.get_by_test_id("job-status")).to_have_text("Cancelled")  # the bar came back
    expect(page.locator("#job-progress")).not_to_have_attribute("hx-trigger", re.compile("."))
    items = page.get_by_test_id("job-item")
    expect(items).to_have_count(30)
    expect(items.filter(has_text="Not sent")).to_have_count(30 - job.done)
    expect(items.filter(has_text="Done")).to_have_count(job.done)
    expect(page.get_by_test_id("job-cancel")).to_have_count(0)
    done = [
        held
        for held in people
        if role.id in http_tenant.store.member_roles.get((job.org_id, held), [])
    ]
    assert len(done) == job.done  # nothing after the item in flight

    # Only the ones not sent, by the keyboard; then every item again.
    not_sent = page.get_by_test_id("job-outcome-not_sent")
    expect(not_sent).to_have_text(f"Not sent ({30 - job.done})")
    press_until(page, "Tab", not_sent)
    page.keyboard.press("Enter")
    expect(items).to_have_count(30 - job.done)
    expect(items.filter(has_text="Done")).to_have_count(0)
    every = page.get_by_test_id("job-outcomes").get_by_role("link", name="All (30)")
    press_until(page, "Tab", every)
    page.keyboard.press("Enter")
    expect(items).to_have_count(30)

    retry = page.get_by_test_id("job-retry")
    expect(retry).to_have_text(f"Retry the failed ones ({30 - job.done})")
    press_until(page, "Tab", retry)
    page.keyboard.press("Enter")
    expect(message(page)).to_contain_text(f"Retrying {30 - job.done} members")
    new = Job.objects.exclude(pk=job.pk).get()
    expect(page).to_have_url(f"{site}/jobs/{new.pk}/")
    settings.JOBS_RATE_LIMITS = {**settings.JOBS_RATE_LIMITS, "member_roles": (1000, 600_000)}
    with running(new):
        pass
    expect(page.get_by_test_id("job-status")).to_have_text("Done")
    expect(page.get_by_test_id("job-item")).to_have_count(30 - job.done)
    expect(page.get_by_test_id("job-item").filter(has_text="Done")).to_have_count(30 - job.done)
    for user_id in people:
        assert role.id in http_tenant.store.member_roles[(job.org_id, user_id)]


def test_download_an_export(operator_page: Page, site: str, http_tenant, operator) -> None:
    page = operator_page
    acme = org_id("acme")
    job = services.create(kind=Kind.EXPORT_MEMBERS, org_id=acme, org_name="Acme", user=operator)
    services.run(str(job.pk))
    page.goto(f"{site}/jobs/{job.pk}/")
    expect(page.get_by_test_id("job-status")).to_have_text("Done")
    link = page.get_by_test_id("job-download")
    with page.expect_download() as info:
        press_until(page, "Tab", link)
        page.keyboard.press("Enter")
    download = info.value
    assert re.fullmatch(r"members-Acme-\d{8}-\d{4}\.csv", download.suggested_filename)
    with open(download.path(), "rb") as f:
        data = f.read()
    assert data.startswith(b"\xef\xbb\xbfuser_id,email,name,role_names,role_ids")
    members = len(http_tenant.store.members[acme])
    assert data.count(b"\r\n") == members + 1


def test_the_organization_page_shows_a_running_jobs_bar(
    operator_page: Page, site: str, http_tenant, operator, settings
) -> None:
    page = operator_page
    job, _role, _people = _role_job(operator, settings, 8)
    page.goto(f"{site}/orgs/{job.org_id}/")
    bar = page.get_by_test_id("org-job-bar")
    expect(bar.get_by_role("link", name="Assign roles")).to_be_visible()
    expect(bar.get_by_test_id("job-status")).to_have_text("Queued")
    with running(job):
        pass
    expect(bar.get_by_test_id("job-status")).to_have_text("Done")
    expect(bar).to_contain_text("8 of 8 done")
    # Its end stays; from now on the bar only looks now and then for a job started elsewhere.
    expect(page.get_by_test_id("org-job-bar")).to_have_attribute("hx-trigger", "every 10s")
    htmx_idle(page)
    page.reload()
    expect(page.get_by_test_id("member-row").first).to_be_visible()
    expect(page.get_by_test_id("org-job-bar")).to_be_empty()  # nothing running any more


def test_a_job_started_elsewhere_shows_on_an_open_organization_page(
    operator_page: Page, site: str, http_tenant, operator, settings, monkeypatch
) -> None:
    """Someone else starts a job (another page, another person) while this page is open: its
    bar appears without a reload, moves, and ends."""
    from adminsite.jobs import views

    monkeypatch.setattr(views, "ORG_BAR_IDLE_POLL", 1)  # 10 s in use; 1 s keeps the test short
    page = operator_page
    page.goto(f"{site}/orgs/{org_id('big-co')}/")
    expect(page.get_by_test_id("member-row").first).to_be_visible()
    bar = page.get_by_test_id("org-job-bar")
    expect(bar).to_have_attribute("hx-trigger", "every 1s")
    expect(bar).to_be_empty()
    job, _role, _people = _role_job(operator, settings, 4)  # started elsewhere
    expect(bar.get_by_role("link", name="Assign roles")).to_be_visible()
    expect(bar.get_by_test_id("job-status")).to_have_text("Queued")
    expect(bar).to_have_attribute("hx-trigger", "every 2s")
    with running(job):
        pass
    expect(bar.get_by_test_id("job-status")).to_have_text("Done")
    expect(bar).to_contain_text("4 of 4 done")
