"""The members export: every member of an organization with their roles, as CSV.

Written page by page as Auth0's checkpoint pages arrive (no 1,000 ceiling, memory flat: a
page of rows at a time), by Python's csv module, in UTF-8 with a byte-order mark so that
spreadsheets read it as UTF-8. A cell a spreadsheet would take as a formula (starting with
`=`, `+`, `-`, `@`, a tab or a carriage return) is written as text: prefixed with `'` (OWASP's
advice for CSV injection).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TextIO

from adminsite.auth0 import Member

HEADER = ("user_id", "email", "name", "role_names", "role_ids")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
ROLE_SEPARATOR = "; "


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


def open_csv(path: Path) -> TextIO:
    """A new file for the export (parent folders made, owner-only permissions)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    return open(fd, "w", encoding="utf-8-sig", newline="")


def write(
    out: TextIO,
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
