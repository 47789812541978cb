"""A function that writes a new entry on PostgreSQL, for AuditEntry._insert_chained (#14).

The chain's lock, the read of its head and the insert used to be two statements sent together,
parsed and planned by the server on every change. As one function, the server keeps the plans
of its statements for the connection's life, and the call is one statement. It fills a row of
the table's own type from the JSON it is given (`jsonb_populate_record`), so a column added
later needs no new version of it. The hashes are finished from the text Python computed around
the head (adminsite.audit.chain.around), as before; the writer checks them against Python's.
Each statement of a volatile function takes a new snapshot (READ COMMITTED): the head is read
after the lock is held, and the lock is held until the calling transaction commits.
SQLite has no such function and writes entries as before.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

INSTALL = """
CREATE FUNCTION adminsite_auditentry_append(
    chain_lock bigint, entry jsonb, genesis text,
    entry_before text, entry_after text, seal_before text, seal_after text
) RETURNS TABLE (id bigint, prev_hash varchar, entry_hash varchar, seal_hash varchar)
LANGUAGE plpgsql AS $$
DECLARE
    added adminsite_auditentry;
BEGIN
    PERFORM pg_advisory_xact_lock(chain_lock);
    added := jsonb_populate_record(NULL::adminsite_auditentry, entry);
    added.id := nextval(pg_get_serial_sequence('adminsite_auditentry', 'id'));
    added.prev_hash := COALESCE(
        (SELECT a.entry_hash FROM adminsite_auditentry a ORDER BY a.id DESC LIMIT 1), genesis
    );
    added.entry_hash := encode(
        sha256(convert_to(entry_before || added.prev_hash || entry_after, 'UTF8')), 'hex'
    );
    added.seal_hash := encode(
        sha256(convert_to(seal_before || added.entry_hash || seal_after, 'UTF8')), 'hex'
    );
    INSERT INTO adminsite_auditentry VALUES (added.*);
    RETURN QUERY SELECT added.id::bigint, added.prev_hash, added.entry_hash, added.seal_hash;
END;
$$;
"""

UNINSTALL = (
    "DROP FUNCTION IF EXISTS adminsite_auditentry_append(bigint, jsonb, text, text, text, text, "
    "text);"
)


def install(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(INSTALL, params=None)


def uninstall(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(UNINSTALL, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0004_job_link"),
    ]

    operations = [
        migrations.RunPython(install, uninstall, elidable=False),
    ]
