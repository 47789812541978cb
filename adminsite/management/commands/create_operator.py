"""Create (or reset) the local operator account for the embedded sandbox, and say how to sign in."""

from __future__ import annotations

import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Create or reset a local operator (superuser) with a fresh random password and print it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="operator")
        parser.add_argument("--url", default="http://127.0.0.1:8000/")

    def handle(self, *args: object, username: str, url: str, **options: object) -> None:
        password = secrets.token_urlsafe(12)
        user, created = get_user_model().objects.get_or_create(username=username)
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        self.stdout.write(
            self.style.SUCCESS(
                f"\n  Org Desk: sign in at {url} as “{username}” with password {password}\n"
                "  (a new password is made each time this runs; nothing is stored in the repo)\n"
            )
        )
