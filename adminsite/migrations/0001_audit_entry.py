"""The audit log: append-only entries of every change attempted through Org Desk."""

from __future__ import annotations

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.CreateModel(
            name="AuditEntry",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                (
                    "created_at",
                    models.DateTimeField(
                        db_index=True, default=django.utils.timezone.now, editable=False
                    ),
                ),
                ("finished_at", models.DateTimeField(blank=True, editable=False, null=True)),
                ("username", models.CharField(db_index=True, editable=False, max_length=150)),
                (
                    "action",
                    models.CharField(
                        choices=[
                            ("domain_level", "Domain-level status"),
                            ("remove_connection", "Remove connection"),
                            ("assign_roles", "Assign roles"),
                            ("remove_role", "Remove role"),
                            ("restore_connection", "Restore connection"),
                        ],
                        editable=False,
                        max_length=32,
                    ),
                ),
                (
                    "org_id",
                    models.CharField(
                        db_index=True, editable=False, max_length=64, verbose_name="organization id"
                    ),
                ),
                (
                    "org_name",
                    models.CharField(
                        blank=True, editable=False, max_length=255, verbose_name="organization"
                    ),
                ),
                ("connection_id", models.CharField(blank=True, editable=False, max_length=64)),
                ("connection_name", models.CharField(blank=True, editable=False, max_length=255)),
                (
                    "member_id",
                    models.CharField(
                        blank=True, editable=False, max_length=255, verbose_name="member user id"
                    ),
                ),
                ("roles", models.JSONField(blank=True, default=list, editable=False)),
                ("before", models.JSONField(blank=True, editable=False, null=True)),
                ("requested", models.JSONField(blank=True, default=dict, editable=False)),
                ("after", models.JSONField(blank=True, editable=False, null=True)),
                (
                    "outcome",
                    models.CharField(
                        choices=[
                            ("pending", "Pending"),
                            ("success", "Success"),
                            ("failed", "Failed"),
                            ("not_sent", "Not sent"),
                        ],
                        db_index=True,
                        default="pending",
                        editable=False,
                        max_length=16,
                    ),
                ),
                (
                    "status_code",
                    models.PositiveSmallIntegerField(blank=True, editable=False, null=True),
                ),
                ("error", models.CharField(blank=True, editable=False, max_length=64)),
                ("message", models.TextField(blank=True, editable=False)),
                (
                    "restores",
                    models.ForeignKey(
                        blank=True,
                        editable=False,
                        help_text="For a restore: the remove_connection entry it undoes.",
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="restorations",
                        to="adminsite.auditentry",
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        blank=True,
                        editable=False,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="audit_entries",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "verbose_name": "audit entry",
                "verbose_name_plural": "audit entries",
                "ordering": ["-created_at", "-id"],
                "indexes": [
                    models.Index(fields=["org_id", "-created_at"], name="audit_org_newest"),
                    models.Index(fields=["username", "-created_at"], name="audit_user_newest"),
                ],
            },
        ),
    ]
