"""Exports move from files under EXPORT_DIR (on the worker's host only) to ExportPart rows in
the database, which every host reads. Files written before this migration are no longer
offered for download; their folder (EXPORT_DIR, default var/exports) can be deleted."""

from __future__ import annotations

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("jobs", "0001_initial"),
    ]

    operations = [
        migrations.RemoveField(
            model_name="job",
            name="export_path",
        ),
        migrations.AddField(
            model_name="job",
            name="export_bytes",
            field=models.PositiveBigIntegerField(blank=True, null=True),
        ),
        migrations.CreateModel(
            name="ExportPart",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("position", models.PositiveIntegerField()),
                ("data", models.BinaryField()),
                (
                    "job",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="export_parts",
                        to="jobs.job",
                    ),
                ),
            ],
            options={
                "ordering": ["job", "position"],
                "constraints": [
                    models.UniqueConstraint(fields=("job", "position"), name="exportpart_position")
                ],
            },
        ),
    ]
