"""The members export: every member of an organization with their roles, as CSV.

Written page by page as Auth0's checkpoint pages arrive (no 1,000 ceiling, memory flat: a
page of rows at a time), by Python's csv module, in UTF-8 with a byte-order mark so that
spreadsheets read it as UTF-8. A cell a spreadsheet would take as a formula (starting with
`=`, `+`, `-`, `@`, a tab or a carriage return) is written as text: prefixed with `'` (OWASP's
advice for CSV injection).

The bytes go to the database in parts of PART_BYTES (`ExportPart`), not to a file: every host
serving Org Desk can hand the export out, whichever host's worker wrote it. They are read back
a part at a time.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import Protocol

from adminsite.auth0 import Member
from adminsite.jobs.models import ExportPart, Job

HEADER = ("user_id", "email", "name", "role_names", "role_ids")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
ROLE_SEPARATOR = "; "
BOM = "\ufeff"  # UTF-8's byte-order mark: spreadsheets then read the file as UTF-8
PART_BYTES = 512 * 1024  # an ExportPart's size (the last one is smaller)


class Writable(Protocol):
    def write(self, text: str, /) -> object: ...


def neutralise(value: str) -> str:
    """A cell's text, prefixed with a single quote when a spreadsheet would run it."""
    return "'" + value if value.startswith(FORMULA_START) else value


def row(member: Member) -> list[str]:
    cells = [
        member.user_id,
        member.email,
        member.name,
        ROLE_SEPARATOR.join(r.name for r in member.roles),
        ROLE_SEPARATOR.join(r.id for r in member.roles),
    ]
    return [neutralise(c) for c in cells]


class Parts:
    """A text file for csv.writer whose bytes (UTF-8, after a byte-order mark) are stored as
    the job's ExportParts: one INSERT each PART_BYTES, the last part on leaving the `with`.

    Parts an earlier attempt left are deleted first (an export starts over from the first
    page), and so are this attempt's when it fails: nothing half-written is kept."""

    def __init__(self, job: Job) -> None:
        self.job, self.size, self.parts = job, 0, 0
        self._buffer = bytearray()
        ExportPart.objects.filter(job=job).delete()
        self.write(BOM)

    def write(self, text: str) -> int:
        data = text.encode("utf-8")
        self._buffer += data
        self.size += len(data)
        if len(self._buffer) >= PART_BYTES:
            self._flush()
        return len(text)

    def _flush(self) -> None:
        if self._buffer:
            ExportPart.objects.create(job=self.job, position=self.parts, data=bytes(self._buffer))
            self.parts += 1
            self._buffer.clear()

    def __enter__(self) -> Parts:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if kind is None:
            self._flush()
        else:
            ExportPart.objects.filter(job=self.job).delete()


def read(job: Job) -> Iterator[bytes]:
    """The export's bytes, a part at a time (one query each: memory holds one part)."""
    parts = ExportPart.objects.filter(job=job)
    for position in list(parts.values_list("position", flat=True)):
        yield bytes(parts.values_list("data", flat=True).get(position=position))


def write(
    out: Writable,
    pages: Iterable[list[Member]],
    on_page: Callable[[int], None] | None = None,
) -> int:
    """Write the header and every page's rows; `on_page(rows)` after each page. Rows written."""
    writer = csv.writer(out)
    writer.writerow(HEADER)
    count = 0
    for page in pages:
        writer.writerows(row(m) for m in page)
        count += len(page)
        if on_page is not None:
            on_page(len(page))
    return count
