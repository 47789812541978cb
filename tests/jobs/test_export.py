"""The members export: CSV escaping, BOM, every page, the file's lifetime (issue #15, item 3)."""

from __future__ import annotations

import csv
import io
import os
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from adminsite.auth0 import Member, Role
from adminsite.jobs import export, services
from adminsite.jobs.models import Job, Kind, Status


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1", "'+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tindent", "'\tindent"),
        ("\rcr", "'\rcr"),
        ("Jane = Doe", "Jane = Doe"),
        ("李小龙", "李小龙"),
        ("", ""),
    ],
)
def test_a_cell_a_spreadsheet_would_run_is_written_as_text(value, written) -> None:
    assert export.neutralise(value) == written


def test_rows_hold_roles_by_name_and_id_quoted_by_the_csv_module(tmp_path) -> None:
    member = Member(
        user_id="samlp|corp/jane",
        email="jane@example.com",
        name='=cmd|"/c calc"!A1, "Jane"\nDoe',
        picture="",
        roles=(Role(id="rol_a", name="billing", description=""), Role("rol_b", "-admin", "")),
    )
    path = tmp_path / "out.csv"
    with export.open_csv(path) as out:
        assert export.write(out, [[member], []]) == 1
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: spreadsheets read UTF-8
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert rows[0] == list(export.HEADER)
    assert rows[1] == [
        "samlp|corp/jane",
        "jane@example.com",
        '\'=cmd|"/c calc"!A1, "Jane"\nDoe',
        "billing; -admin",
        "rol_a; rol_b",
    ]
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"


def test_an_export_job_writes_every_member_of_every_page(db, tenant, big, operator) -> None:
    """1,100 members: past Auth0's 1,000 offset ceiling, by cursor, 50 a page."""
    job = services.create(kind=Kind.EXPORT_MEMBERS, org_id=big, user=operator)
    assert services.run(str(job.pk)) == Status.DONE
    job.refresh_from_db()
    path = services.export_file(job)
    assert path is not None and path.name == f"{job.pk}.csv"
    with path.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    members = tenant.store.members[big]
    assert len(rows) == len(members) == 1100 == job.total == job.done
    assert {r["user_id"] for r in rows} == set(members)
    for r in rows:
        ids = [i for i in r["role_ids"].split("; ") if i]
        assert ids == list(tenant.store.member_roles.get((big, r["user_id"]), []))
    pages = [
        c
        for c in tenant.requests_log
        if c["raw_path"].endswith("/members") and c["method"] == "GET"
    ]
    assert len(pages) == 1100 // 50 + 1  # the members list ends with an empty page
    assert not list(Path(job.export_path).parent.glob("*.part"))
    assert job.expires_at is not None
    assert timedelta(hours=23) < job.expires_at - timezone.now() <= timedelta(hours=24)


def test_an_export_is_deleted_after_24_hours(db, tenant, big, operator, settings) -> None:
    job = services.create(kind=Kind.EXPORT_MEMBERS, org_id=big, user=operator)
    services.run(str(job.pk))
    job.refresh_from_db()
    path = services.export_file(job)
    assert path is not None
    assert services.cleanup_exports(now=timezone.now() + timedelta(hours=23)) == 0
    assert path.exists()
    assert services.cleanup_exports(now=timezone.now() + timedelta(hours=24, seconds=1)) == 1
    assert not path.exists()
    job.refresh_from_db()
    assert job.export_path == "" and services.export_file(job) is None
    # a stray file (an export whose job row is gone, a .part left by a crash) goes too
    stray = Path(settings.EXPORT_DIR) / "0123.csv.part"
    stray.write_text("x")
    old = time.time() - settings.EXPORT_TTL - 1
    os.utime(stray, (old, old))
    assert services.cleanup_exports() == 1 and not stray.exists()


def test_a_cancelled_export_keeps_no_file(db, tenant, big, operator, settings) -> None:
    job = services.create(kind=Kind.EXPORT_MEMBERS, org_id=big, user=operator)
    Job.objects.filter(pk=job.pk).update(cancel_requested=True)
    assert services.run(str(job.pk)) == Status.CANCELLED
    job.refresh_from_db()
    assert job.export_path == ""
    assert not any(Path(settings.EXPORT_DIR).glob("*"))
