from __future__ import annotations

from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "adminsite.audit"
    label = "audit"
    verbose_name = "Audit log"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from adminsite.audit import restorers, views
        from adminsite.audit.models import Action

        restorers.register(Action.REMOVE_CONNECTION, views.ConnectionRestorer())
