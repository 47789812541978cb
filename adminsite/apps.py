from __future__ import annotations

from django.apps import AppConfig


class AdminsiteConfig(AppConfig):
    name = "adminsite"
    verbose_name = "Org Desk"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        import adminsite.checks  # noqa: F401  (registers the deployment checks)
        from adminsite import usercache

        usercache.connect()  # a cached signed-in user is dropped whenever it changes
