"""`manage.py verify_audit`: walk the audit log's hash chain; name the first entry that breaks it.

Exit status 0 when every entry matches; otherwise the first entry that does not, and how
(edited fields, an edited outcome, an entry removed or inserted before it), and exit status 1.
Entries are read in id order a batch at a time: memory stays flat however long the log.
Run it from cron or a systemd timer (docs/deploy.md).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS

from adminsite.audit import chain
from adminsite.audit.models import AuditEntry


def entries_(n: int) -> str:
    return f"{n} entry" if n == 1 else f"{n} entries"


class Command(BaseCommand):
    help = "Check the audit log's hash chain; name the first entry that does not match."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--database", default=DEFAULT_DB_ALIAS, help="The database to check (default: default)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        entries = AuditEntry.objects.using(options["database"])
        result = chain.walk(chain.batches(entries))
        if result.broken is not None:
            raise CommandError(
                f"The audit log's chain is broken at {result.broken}. "
                f"{entries_(result.checked)} before it "
                f"{'matches' if result.checked == 1 else 'match'}."
            )
        if result.last_pk is None:
            self.stdout.write("Checked 0 entries: the audit log is empty.")
            return
        self.stdout.write(
            f"Checked {entries_(result.checked)} ({result.pending} pending): the chain is intact. "
            f"Last entry #{result.last_pk}, hash {result.last_hash}."
        )
