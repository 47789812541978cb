"""The task the worker runs (django.tasks; django-tasks-db's DatabaseBackend in settings.TASKS)."""

from __future__ import annotations

from django.tasks import task


@task()
def run_job(job_id: str) -> str:
    """Run (or resume) one job; returns its final status. See adminsite.jobs.services.run."""
    from adminsite.jobs import services

    return services.run(job_id)
