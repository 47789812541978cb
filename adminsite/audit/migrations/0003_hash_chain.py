"""The audit log becomes a hash chain, append-only in the database itself (issue #14).

1. Three hash columns (adminsite.audit.chain says what they cover).
2. The entries already there are chained in id order, so `verify_audit` passes on an upgraded
   database (in batches: memory stays flat however long the log).
3. On PostgreSQL, a trigger on the table: DELETE and TRUNCATE raise; UPDATE raises unless it
   seals a pending entry (outcome from 'pending' to another value, only the outcome columns
   and seal_hash changed) or only sets user_id to NULL (deleting a Django user: SET_NULL).
   SQLite has no such trigger; Django refuses edits there (AuditImmutable), as before.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations, models

from adminsite.audit import chain

TABLE = "adminsite_auditentry"
# The columns sealing writes (chain.SEAL_FIELDS and seal_hash); every other column is fixed.
SEALED_COLUMNS = ", ".join(f"'{c}'" for c in (*chain.SEAL_FIELDS, "seal_hash"))

INSTALL = f"""
CREATE FUNCTION adminsite_auditentry_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        -- Deleting a Django user sets user_id to NULL (on_delete=SET_NULL); nothing else may
        -- change user_id.
        IF NEW.user_id IS DISTINCT FROM OLD.user_id AND NEW.user_id IS NOT NULL THEN
            RAISE EXCEPTION 'audit entry %: user_id may only become NULL', OLD.id;
        END IF;
        -- Only unlinking the user: nothing else changed.
        IF to_jsonb(NEW) - 'user_id' = to_jsonb(OLD) - 'user_id' THEN
            RETURN NEW;
        END IF;
        -- Sealing: a pending entry gets its outcome, once; its other columns stay as written.
        IF OLD.outcome = 'pending' AND NEW.outcome <> 'pending'
           AND to_jsonb(NEW) - ARRAY[{SEALED_COLUMNS}, 'user_id']
             = to_jsonb(OLD) - ARRAY[{SEALED_COLUMNS}, 'user_id'] THEN
            RETURN NEW;
        END IF;
        RAISE EXCEPTION 'audit entry % is append-only: only sealing a pending entry may '
                        'update it', OLD.id;
    END IF;
    RAISE EXCEPTION 'audit entries are append-only: % refused on %', TG_OP, TG_TABLE_NAME;
END;
$$;
CREATE TRIGGER adminsite_auditentry_append_only_rows
    BEFORE UPDATE OR DELETE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION adminsite_auditentry_append_only();
CREATE TRIGGER adminsite_auditentry_append_only_truncate
    BEFORE TRUNCATE ON {TABLE}
    FOR EACH STATEMENT EXECUTE FUNCTION adminsite_auditentry_append_only();
"""

UNINSTALL = f"""
DROP TRIGGER IF EXISTS adminsite_auditentry_append_only_truncate ON {TABLE};
DROP TRIGGER IF EXISTS adminsite_auditentry_append_only_rows ON {TABLE};
DROP FUNCTION IF EXISTS adminsite_auditentry_append_only();
"""


def chain_existing(apps: Any, schema_editor: Any) -> None:
    connection = schema_editor.connection
    entries = apps.get_model("audit", "AuditEntry").objects.using(connection.alias)
    update = (
        f"UPDATE {connection.ops.quote_name(TABLE)} "
        "SET prev_hash = %s, entry_hash = %s, seal_hash = %s WHERE id = %s"
    )
    prev = chain.GENESIS
    rows: list[tuple[str, str, str, int]] = []
    with connection.cursor() as cursor:
        for entry in chain.batches(entries, size=1000):
            chain.stamp(entry, prev)
            prev = entry.entry_hash
            rows.append((entry.prev_hash, entry.entry_hash, entry.seal_hash, entry.pk))
            if len(rows) == 1000:
                cursor.executemany(update, rows)
                rows = []
        if rows:
            cursor.executemany(update, rows)


def install_trigger(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(INSTALL, params=None)


def uninstall_trigger(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(UNINSTALL, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0002_more_actions"),
    ]

    operations = [
        migrations.AddField(
            model_name="auditentry",
            name="prev_hash",
            field=models.CharField(default="", editable=False, max_length=64),
        ),
        migrations.AddField(
            model_name="auditentry",
            name="entry_hash",
            field=models.CharField(default="", editable=False, max_length=64),
        ),
        migrations.AddField(
            model_name="auditentry",
            name="seal_hash",
            field=models.CharField(default="", editable=False, max_length=64),
        ),
        migrations.RunPython(chain_existing, migrations.RunPython.noop, elidable=False),
        migrations.RunPython(install_trigger, uninstall_trigger, elidable=False),
    ]
