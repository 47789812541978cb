"""The jobs' pages (adminsite/jobs/views.py): who may see and do what, the progress part's
polling, cancel, retry, the download, the organization page's bar (issue #15 item 5)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from adminsite.jobs import services
from adminsite.jobs.models import ItemOutcome, Job, Kind, Status
from tests.jobs.conftest import new_job

HTMX = {"HX-Request": "true"}


@pytest.fixture
def job(db, tenant, big, people, role, operator) -> Job:
    return new_job(operator, Kind.ASSIGN_ROLES, big, people[:3], [role])


def test_a_queued_jobs_page_polls_its_bar(viewer_client, job, role) -> None:
    r = viewer_client.get(f"/jobs/{job.pk}/")
    assert r.status_code == 200
    body = r.content.decode()
    assert "Assign roles in Big" in body and "olivia" in body and role["name"] in body
    assert f'hx-get="/jobs/{job.pk}/progress/"' in body and 'hx-trigger="every 1s"' in body
    assert '<progress max="3" value="0"' in body
    assert "Cancel the job" not in body  # a viewer
    r = viewer_client.get(f"/jobs/{job.pk}/progress/", headers={"HX-Request": "true"})
    assert 'hx-trigger="every 1s"' in r.content.decode()


def test_an_ended_job_stops_polling_and_lists_every_item(operator_client, job, people) -> None:
    services.run(str(job.pk))
    r = operator_client.get(f"/jobs/{job.pk}/progress/", headers={"HX-Request": "true"})
    body = r.content.decode()
    assert "hx-trigger" not in body.split('id="job-end"')[0]
    assert 'id="job-end" hx-swap-oob="true"' in body  # the outcome section comes along
    assert body.count('data-testid="job-item"') == 3
    page = operator_client.get(f"/jobs/{job.pk}/").content.decode()
    assert "hx-trigger" not in page.split("</main>")[0].split('id="main"')[1]
    for user_id in people[:3]:
        assert user_id in page
    assert "Done" in page and "Retry the failed ones" not in page


def test_an_ended_jobs_items_by_outcome_100_a_page(
    operator_client, db, big, people, role, operator
):
    job = new_job(operator, Kind.ASSIGN_ROLES, big, people[:250], [role])
    Job.objects.filter(pk=job.pk).update(status=Status.DONE)
    items = job.items.all()
    items.filter(position__lt=200).update(outcome=ItemOutcome.SUCCESS)
    items.filter(position__gte=200, position__lt=240).update(outcome=ItemOutcome.FAILED)
    items.filter(position__gte=240).update(outcome=ItemOutcome.SKIPPED)

    page = operator_client.get(f"/jobs/{job.pk}/").content.decode()
    assert page.count('data-testid="job-item"') == 100 and "Page 1 of 3" in page
    assert 'aria-current="true">All (250)</a>' in page
    for label, count in (("Done", 200), ("Failed", 40), ("Skipped", 10)):
        assert f"{label} ({count})</a>" in page
    assert "Not sent (" not in page  # only the outcomes the job has
    assert "Retry the failed ones (40)" in page

    failed = operator_client.get(f"/jobs/{job.pk}/?outcome=failed").content.decode()
    assert failed.count('data-testid="job-item"') == 40 and "Page 1 of" not in failed
    assert failed.count("badge outcome-failed") == 40 and "badge outcome-success" not in failed
    assert 'aria-current="true" data-testid="job-outcome-failed">Failed (40)</a>' in failed
    done2 = operator_client.get(f"/jobs/{job.pk}/?outcome=success&page=2").content.decode()
    assert "Page 2 of 2" in done2 and done2.count('data-testid="job-item"') == 100
    assert 'href="?outcome=success&amp;page=1"' in done2  # the pager keeps the filter
    # Anything else is every item.
    bogus = operator_client.get(f"/jobs/{job.pk}/?outcome=<x>").content.decode()
    assert bogus.count('data-testid="job-item"') == 100 and "&lt;x&gt;" not in bogus


def test_unknown_and_malformed_ids_are_404(operator_client, db) -> None:
    assert operator_client.get("/jobs/00000000-0000-0000-0000-000000000000/").status_code == 404
    assert operator_client.get("/jobs/not-a-uuid/").status_code == 404
    assert operator_client.get("/jobs/12345/progress/").status_code == 404
    r = operator_client.post("/jobs/00000000-0000-0000-0000-000000000000/cancel/")
    assert r.status_code == 404


def test_viewers_may_not_cancel_or_retry(viewer_client, job) -> None:
    assert viewer_client.post(f"/jobs/{job.pk}/cancel/").status_code == 403
    assert viewer_client.post(f"/jobs/{job.pk}/retry/").status_code == 403
    job.refresh_from_db()
    assert not job.cancel_requested and Job.objects.count() == 1


def test_posts_need_the_csrf_token(operator, job) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(operator)
    assert client.post(f"/jobs/{job.pk}/cancel/").status_code == 403
    job.refresh_from_db()
    assert not job.cancel_requested
    assert client.get(f"/jobs/{job.pk}/cancel/").status_code in (403, 405)


def test_cancel_before_start(operator_client, job) -> None:
    r = operator_client.post(f"/jobs/{job.pk}/cancel/", follow=True)
    job.refresh_from_db()
    assert job.status == Status.CANCELLED
    assert "Cancelled." in r.content.decode()
    assert set(job.items.values_list("outcome", flat=True)) == {ItemOutcome.NOT_SENT}
    # the ended job offers a retry of what was not sent
    assert "Retry the failed ones (3)" in r.content.decode()


def test_retry_makes_a_new_job_and_redirects_to_it(operator_client, job) -> None:
    services.cancel(job)
    r = operator_client.post(f"/jobs/{job.pk}/retry/")
    new = Job.objects.exclude(pk=job.pk).get()
    assert r.status_code == 302 and r["Location"] == f"/jobs/{new.pk}/"
    assert new.retry_of == job and new.total == 3


def test_retry_of_a_running_job_is_refused(operator_client, job) -> None:
    r = operator_client.post(f"/jobs/{job.pk}/retry/", follow=True)
    assert "still running" in r.content.decode()
    assert Job.objects.count() == 1


def test_export_download_then_gone(operator_client, db, tenant, big, operator, viewer):
    viewer_client = Client()
    viewer_client.force_login(viewer)
    job = services.create(kind=Kind.EXPORT_MEMBERS, org_id=big, org_name="Big =Co", user=operator)
    services.run(str(job.pk))
    page = operator_client.get(f"/jobs/{job.pk}/").content.decode()
    assert f'href="/jobs/{job.pk}/download/"' in page
    r = operator_client.get(f"/jobs/{job.pk}/download/")
    assert r.status_code == 200
    assert r["Content-Type"] == "text/csv; charset=utf-8"
    assert r["Content-Disposition"].startswith('attachment; filename="members-Big-Co-')
    body = b"".join(r.streaming_content)
    assert body.startswith(b"\xef\xbb\xbfuser_id,email,name")
    assert body.count(b"\n") == 1101
    assert int(r["Content-Length"]) == len(body) and r["Cache-Control"] == "no-store"
    assert viewer_client.get(f"/jobs/{job.pk}/download/").status_code == 403
    Job.objects.filter(pk=job.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert operator_client.get(f"/jobs/{job.pk}/download/").status_code == 404
    services.cleanup_exports()
    assert operator_client.get(f"/jobs/{job.pk}/download/").status_code == 404
    assert "No file is kept" in operator_client.get(f"/jobs/{job.pk}/").content.decode()


def test_the_list_newest_first_and_paged(viewer_client, db, tenant, big, people, role, operator):
    jobs = [new_job(operator, Kind.ASSIGN_ROLES, big, people[:1], [role]) for _ in range(52)]
    body = viewer_client.get("/jobs/").content.decode()
    assert body.count('data-testid="job-row"') == 50
    assert body.index(str(jobs[-1].pk)) < body.index(str(jobs[-2].pk))
    assert "Page 1 of 2" in body
    assert viewer_client.get("/jobs/?page=2").content.decode().count('data-testid="job-row"') == 2
    assert 'data-testid="nav-jobs"' in body


def test_the_organization_bar(viewer_client, job, big) -> None:
    r = viewer_client.get(f"/jobs/running/{big}/", headers={"HX-Request": "true"})
    body = r.content.decode()
    assert f"?job={job.pk}" in body and 'hx-trigger="every 2s"' in body
    services.run(str(job.pk))
    r = viewer_client.get(f"/jobs/running/{big}/?job={job.pk}", headers={"HX-Request": "true"})
    body = r.content.decode()
    assert "Done" in body and 'hx-trigger="every 2s"' not in body  # its end shows
    # From then on it looks every 10 s for a job started elsewhere, keeping the ended one.
    assert f'?idle=1&amp;job={job.pk}" hx-trigger="every 10s"' in body
    idle = viewer_client.get(f"/jobs/running/{big}/?idle=1&job={job.pk}", headers=HTMX)
    assert idle.status_code == 204 and idle.content == b""  # nothing new: nothing swapped
    empty = viewer_client.get(f"/jobs/running/{big}/").content.decode()
    assert "<section" not in empty and '?idle=1" hx-trigger="every 10s"' in empty
    assert viewer_client.get(f"/jobs/running/{big}/?idle=1").status_code == 204
    # a job id from elsewhere or malformed is ignored
    assert "<section" not in viewer_client.get(f"/jobs/running/{big}/?job=x").content.decode()
    assert viewer_client.get("/jobs/running/not-an-org/").status_code == 404


def test_the_organization_bar_finds_a_job_started_elsewhere(
    viewer_client, job, tenant, big, people, role, operator
) -> None:
    """A page that showed no running job, or the end of one, shows the next one started."""
    services.run(str(job.pk))
    assert viewer_client.get(f"/jobs/running/{big}/?idle=1", headers=HTMX).status_code == 204
    started = new_job(operator, Kind.ASSIGN_ROLES, big, people[:2], [role])
    for query in ("?idle=1", f"?idle=1&job={job.pk}"):
        r = viewer_client.get(f"/jobs/running/{big}/{query}", headers=HTMX)
        body = r.content.decode()
        assert r.status_code == 200 and "<section" in body and "Queued" in body
        assert f'?job={started.pk}" hx-trigger="every 2s"' in body  # followed from now on
    # Another organization's job does not show here.
    services.run(str(started.pk))
    elsewhere = next(o for o in tenant.store.orgs if o != big)
    new_job(operator, Kind.ASSIGN_ROLES, elsewhere, [people[0]], [role])
    assert viewer_client.get(f"/jobs/running/{big}/?idle=1", headers=HTMX).status_code == 204


def test_names_are_escaped(operator_client, db, tenant, big, people, operator) -> None:
    job = services.create(
        kind=Kind.REMOVE_MEMBERS,
        org_id=big,
        org_name="<script>x</script>",
        user=operator,
        subjects=people[:1],
    )
    body = operator_client.get(f"/jobs/{job.pk}/").content.decode()
    assert "<script>x</script>" not in body and "&lt;script&gt;x&lt;/script&gt;" in body


def test_the_list_of_one_organization(viewer_client, db, tenant, big, people, role, operator):
    new_job(operator, Kind.ASSIGN_ROLES, big, people[:1], [role])
    other = list(tenant.store.orgs)[0]
    new_job(operator, Kind.ASSIGN_ROLES, other, [people[0]], [role])
    assert viewer_client.get(f"/jobs/?org={big}").content.decode().count('"job-row"') == 1
    assert viewer_client.get("/jobs/").content.decode().count('"job-row"') == 2
    assert viewer_client.get("/jobs/?org=<x>").content.decode().count('"job-row"') == 0
    page = viewer_client.get(f"/orgs/{big}/").content.decode()
    assert f'href="/jobs/?org={big}"' in page


def test_an_every_member_job_says_it_lists_first(viewer_client, db, tenant, big, role, operator):
    job = services.create(
        kind=Kind.REMOVE_ROLES, org_id=big, user=operator, roles=[role], all_members=True
    )
    assert "Listing the organization" in viewer_client.get(f"/jobs/{job.pk}/").content.decode()
    services.run(str(job.pk))
    body = viewer_client.get(f"/jobs/{job.pk}/").content.decode()
    assert "Listing the organization" not in body and "1100</strong> of 1100 done" in body
