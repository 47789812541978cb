"""The jobs' pages: every signed-in user sees them; operators cancel, retry and download.

A job's page shows its progress bar as a part (`#job-progress`) that htmx polls every second
while the job is queued, running or cancelling; once it has ended the part comes back without
its trigger (polling stops) and brings the outcome section (`#job-end`: the item table, "Retry
the failed ones", an export's download) out of band. Cancel and retry are plain forms that
redirect with a flash message.
"""

from __future__ import annotations

from typing import Any, cast
from uuid import UUID

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_GET, require_POST

from adminsite import auth0
from adminsite.jobs import export, services
from adminsite.jobs.models import Job
from adminsite.permissions import operator_required

PER_PAGE = 50
DETAIL = "jobs/job_detail.html"


@require_GET
def job_list(request: HttpRequest) -> HttpResponse:
    """Every job, newest first, 50 a page; `?org=` one organization's (a malformed id: none)."""
    org = request.GET.get("org", "")
    jobs = Job.objects.all()
    if org:
        jobs = jobs.filter(org_id=org) if auth0.ORG_ID.fullmatch(org) else jobs.none()
    page = Paginator(jobs, PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "jobs/job_list.html", {"page": page, "org": org})


@require_GET
def job_detail(request: HttpRequest, job_id: UUID) -> HttpResponse:
    """A job: who started what, its progress bar and, once ended, every item's outcome."""
    job = get_object_or_404(Job, pk=job_id)
    context = services.job_context(job, request.GET.get("page"), request.GET.get("outcome"))
    return render(request, DETAIL, context)


@require_GET
def job_progress(request: HttpRequest, job_id: UUID) -> HttpResponse:
    """The progress bar alone (polled); with the outcome section out of band once ended."""
    job = get_object_or_404(Job, pk=job_id)
    context: dict[str, Any] = {"job": job, "progress": services.progress(job)}
    if not job.is_active:
        context.update(services.job_context(job, None), oob=True)
    return render(request, f"{DETAIL}#job-progress", context)


@require_POST
@operator_required
def cancel(request: HttpRequest, job_id: UUID) -> HttpResponse:
    job = get_object_or_404(Job, pk=job_id)
    if not job.is_active:
        messages.info(request, "This job has ended already; nothing to cancel.")
        return redirect("jobs:detail", job.pk)
    job = services.cancel(job)
    messages.success(
        request,
        "Cancelled."
        if not job.is_active
        else "Cancelling: the job stops after the item in flight.",
    )
    return redirect("jobs:detail", job.pk)


@require_POST
@operator_required
def retry(request: HttpRequest, job_id: UUID) -> HttpResponse:
    job = get_object_or_404(Job, pk=job_id)
    try:
        new = services.retry_failed(job, request.user if request.user.is_authenticated else None)
    except services.JobError as exc:
        messages.error(request, str(exc))
        return redirect("jobs:detail", job.pk)
    messages.success(request, f"Retrying {new.total} member{'s' if new.total != 1 else ''}.")
    return redirect("jobs:detail", new.pk)


@require_GET
@operator_required
def download(request: HttpRequest, job_id: UUID) -> HttpResponse:
    """An export's CSV while it is kept (EXPORT_TTL), streamed from the database a part at a
    time; 404 once expired or deleted."""
    job = get_object_or_404(Job, pk=job_id)
    if not services.export_kept(job):
        raise Http404("This export's file is no longer kept.")
    response = StreamingHttpResponse(export.read(job), content_type="text/csv; charset=utf-8")
    response["Content-Length"] = str(job.export_bytes)
    response["Content-Disposition"] = content_disposition_header(
        as_attachment=True, filename=services.export_filename(job)
    )
    response["Cache-Control"] = "no-store"
    return cast(HttpResponse, response)  # streamed (operator_required's type says HttpResponse)


# Seconds between two looks for a job started elsewhere, while the bar shows none running.
ORG_BAR_IDLE_POLL = 10


@require_GET
def org_bar(request: HttpRequest, org_id: str) -> HttpResponse:
    """The organization's running job's bar, polled every 2 s while it runs; when none runs
    (nothing, or the end of the one it followed), every ORG_BAR_IDLE_POLL s for one started
    since elsewhere. Such a look that finds nothing new answers 204: htmx swaps nothing, so
    the bar (and the keyboard focus on its link) stays as it is."""
    shown = request.GET.get("job") or None
    job = services.running_job(org_id, shown)
    nothing_new = (job is None or not job.is_active) and (str(job.pk) if job else None) == shown
    if request.GET.get("idle") and nothing_new:
        return HttpResponse(status=204)
    context: dict[str, Any] = {"job": job, "org_id": org_id, "idle_poll": ORG_BAR_IDLE_POLL}
    if job is not None:
        context["progress"] = services.progress(job)
    return render(request, f"{DETAIL}#org-bar", context)
