"""`manage.py jobs_worker`: django-tasks-db's db_worker plus Org Desk's sweep and cleanup.

On start, and every SWEEP_EVERY seconds while it runs (a daemon thread), it re-queues the
jobs whose worker died (services.sweep), deletes expired exports (services.cleanup_exports) and
prunes django-tasks-db's rows of tasks finished 14 days ago (services.prune_task_results); then
it runs tasks like `manage.py db_worker` (any of its options can follow)."""

from __future__ import annotations

import logging
import threading
from types import FrameType
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections

from adminsite.jobs import runner, services

logger = logging.getLogger("adminsite.jobs")


def _sweep_once() -> None:
    try:
        services.sweep()
        services.cleanup_exports()
        services.prune_task_results()
    except Exception:
        logger.exception("The jobs sweep failed")
    finally:
        close_old_connections()


def _sweeper(stop: threading.Event) -> None:
    while not stop.wait(services.SWEEP_EVERY):
        _sweep_once()


class Command(BaseCommand):
    help = "Run background jobs (db_worker), re-queueing jobs whose worker died."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--interval", type=float, default=0.5)
        parser.add_argument("--batch", action="store_true", help="run what is queued, then exit")

    def handle(self, *args: Any, **options: Any) -> None:
        from django_tasks_db.management.commands import db_worker

        # db_worker, asked to stop, lets the task in flight run to its end, however long the
        # job: tell the runner too, so that it stops between items and re-queues the job.
        shutdown = db_worker.Worker.shutdown

        def stop_jobs_too(worker: db_worker.Worker, signum: int, frame: FrameType | None) -> None:
            runner.STOPPING.set()
            shutdown(worker, signum, frame)

        db_worker.Worker.shutdown = stop_jobs_too  # type: ignore[method-assign,assignment]
        _sweep_once()
        stop = threading.Event()
        threading.Thread(target=_sweeper, args=(stop,), daemon=True, name="jobs-sweep").start()
        try:
            call_command(
                "db_worker",
                interval=options["interval"],
                batch=options["batch"],
                reload=False,
                startup_delay=False,
                verbosity=options["verbosity"],
            )
        finally:
            stop.set()
