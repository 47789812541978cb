"""Background jobs: bulk member changes and member exports, run by a worker (issue #15).

- models.py: `Job` and its `JobItem`s (one per member), the state a worker resumes from.
- services.py: create, cancel, retry; the sweep that re-queues jobs whose worker died; the
  cleanup of expired exports.
- runner.py: what the task does: items one at a time, each audited like the pages do (entry
  before the call, sealed after, linked to the job), counters updated once per item.
- pacing.py: the shared token bucket per endpoint group that keeps jobs within Auth0's
  published rate limits and leaves room for the pages.
- export.py: the members CSV (UTF-8 with BOM, formulas neutralised), streamed page by page.
- tasks.py: the django.tasks task the worker runs (`manage.py jobs_worker`).
"""
