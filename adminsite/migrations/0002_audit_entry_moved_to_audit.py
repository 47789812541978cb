"""The audit entry model moved to the `audit` app (adminsite/audit/), which keeps its table.

State only: the table stays where it is, now owned by `audit.AuditEntry`.
"""

from __future__ import annotations

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("adminsite", "0001_audit_entry"),
        ("audit", "0001_initial"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[],
            state_operations=[migrations.DeleteModel(name="AuditEntry")],
        ),
    ]
