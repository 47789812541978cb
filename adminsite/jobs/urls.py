"""The jobs' pages, mounted at /jobs/: the list, a job's page, its progress bar, cancel,
retry, an export's download, and the running job's bar on an organization's page."""

from __future__ import annotations

from django.urls import path

from adminsite.jobs import views

app_name = "jobs"
urlpatterns = [
    path("", views.job_list, name="list"),
    path("<uuid:job_id>/", views.job_detail, name="detail"),
    path("<uuid:job_id>/progress/", views.job_progress, name="progress"),
    path("<uuid:job_id>/cancel/", views.cancel, name="cancel"),
    path("<uuid:job_id>/retry/", views.retry, name="retry"),
    path("<uuid:job_id>/download/", views.download, name="download"),
    path("running/<org_id:org_id>/", views.org_bar, name="org-bar"),
]
