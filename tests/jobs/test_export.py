"""The members export: CSV escaping, BOM, every page, its parts in the database and their
lifetime (issue #15, item 3)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
from django.utils import timezone

from adminsite.auth0 import Member, Role
from adminsite.jobs import export, services
from adminsite.jobs.models import ExportPart, Job, Kind, Status


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


def _csv(job: Job) -> bytes:
    return b"".join(export.read(job))


def test_rows_hold_roles_by_name_and_id_quoted_by_the_csv_module(db) -> None:
    job = Job.objects.create(kind=Kind.EXPORT_MEMBERS, org_id="org_1", username="olivia")
    member = Member(
        user_id="samlp|corp/jane",
        email="jane@example.com",
        name='=cmd|"/c calc"!A1, "Jane"\nDoe',
        picture="",
        roles=(Role(id="rol_a", name="billing", description=""), Role("rol_b", "-admin", "")),
    )
    with export.Parts(job) as out:
        assert export.write(out, [[member], []]) == 1
    raw = _csv(job)
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 BOM: spreadsheets read UTF-8
    assert len(raw) == out.size
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
    assert rows[0] == list(export.HEADER)
    assert rows[1] == [
        "samlp|corp/jane",
        "jane@example.com",
        '\'=cmd|"/c calc"!A1, "Jane"\nDoe',
        "billing; -admin",
        "rol_a; rol_b",
    ]


def test_the_bytes_are_stored_in_parts_and_read_back_in_order(db, settings) -> None:
    """Parts of PART_BYTES (the last one smaller), whatever the characters; a second attempt
    replaces the first's parts, and a failed one keeps none."""
    job = Job.objects.create(kind=Kind.EXPORT_MEMBERS, org_id="org_1", username="olivia")
    text = "".join(f"{i},李小龙 ☃ é\r\n" for i in range(3000))
    original = export.PART_BYTES
    export.PART_BYTES = 4096
    try:
        with export.Parts(job) as out:
            for start in range(0, len(text), 1000):
                out.write(text[start : start + 1000])
        parts = [bytes(d) for d in ExportPart.objects.values_list("data", flat=True)]
        assert len(parts) > 10 and sum(map(len, parts)) == out.size
        assert all(len(p) >= 4096 for p in parts[:-1]) and 0 < len(parts[-1]) <= 4096 + 3000
        assert _csv(job) == ("\ufeff" + text).encode("utf-8")
        with export.Parts(job) as again:
            again.write("a,b\r\n")
        assert _csv(job) == "\ufeffa,b\r\n".encode()
        with pytest.raises(RuntimeError), export.Parts(job) as failed:
            failed.write("x" * 10_000)
            raise RuntimeError("the worker stopped")
        assert not ExportPart.objects.filter(job=job).exists()
    finally:
        export.PART_BYTES = original


def test_an_export_job_writes_every_member_of_every_page(db, tenant, big, operator) -> None:
    """1,100 members: past Auth0's 1,000 offset ceiling, by cursor, 50 a page."""
    job = services.create(kind=Kind.EXPORT_MEMBERS, org_id=big, user=operator)
    assert services.run(str(job.pk)) == Status.DONE
    job.refresh_from_db()
    assert services.export_kept(job)
    raw = _csv(job)
    assert len(raw) == job.export_bytes
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"), newline="")))
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
    assert job.expires_at is not None
    assert timedelta(hours=23) < job.expires_at - timezone.now() <= timedelta(hours=24)


def test_a_resumed_export_starts_over_without_the_parts_of_the_first_attempt(
    db, tenant, big, operator
) -> None:
    """A worker killed mid-export leaves parts; the job run again writes the file once."""
    job = services.create(kind=Kind.EXPORT_MEMBERS, org_id=big, user=operator)
    ExportPart.objects.create(job=job, position=0, data=b"\xef\xbb\xbfuser_id,half a file")
    ExportPart.objects.create(job=job, position=1, data=b"written before the kill")
    assert services.run(str(job.pk)) == Status.DONE
    job.refresh_from_db()
    raw = _csv(job)
    assert b"half a file" not in raw and b"before the kill" not in raw
    assert raw.count(b"user_id,email") == 1 and len(raw) == job.export_bytes
    assert raw.decode("utf-8-sig").count("\r\n") == 1101


def test_an_export_is_deleted_after_24_hours(db, tenant, big, operator, settings) -> None:
    job = services.create(kind=Kind.EXPORT_MEMBERS, org_id=big, user=operator)
    services.run(str(job.pk))
    job.refresh_from_db()
    assert services.export_kept(job) and ExportPart.objects.filter(job=job).exists()
    assert services.cleanup_exports(now=timezone.now() + timedelta(hours=23)) == 0
    assert ExportPart.objects.filter(job=job).exists()
    assert services.cleanup_exports(now=timezone.now() + timedelta(hours=24, seconds=1)) == 1
    assert not ExportPart.objects.filter(job=job).exists()
    job.refresh_from_db()
    assert job.export_bytes is None and not services.export_kept(job)
    # Parts a crashed export left (its job no longer running, no file kept) go too; a running
    # export's parts stay.
    crashed = services.create(kind=Kind.EXPORT_MEMBERS, org_id=big, user=operator)
    Job.objects.filter(pk=crashed.pk).update(status=Status.FAILED)
    ExportPart.objects.create(job=crashed, position=0, data=b"x")
    running = services.create(kind=Kind.EXPORT_MEMBERS, org_id=big, user=operator)
    Job.objects.filter(pk=running.pk).update(status=Status.RUNNING)
    ExportPart.objects.create(job=running, position=0, data=b"y")
    assert services.cleanup_exports() == 1
    assert list(ExportPart.objects.values_list("job_id", flat=True)) == [running.pk]


def test_a_cancelled_export_keeps_no_file(db, tenant, big, operator) -> None:
    job = services.create(kind=Kind.EXPORT_MEMBERS, org_id=big, user=operator)
    Job.objects.filter(pk=job.pk).update(cancel_requested=True)
    assert services.run(str(job.pk)) == Status.CANCELLED
    job.refresh_from_db()
    assert job.export_bytes is None and not services.export_kept(job)
    assert not ExportPart.objects.exists()
