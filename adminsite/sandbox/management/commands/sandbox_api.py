"""Serve a fresh sandbox tenant over real HTTP on a loopback port until Ctrl-C."""

from __future__ import annotations

import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from adminsite.sandbox import Tenant, serve
from adminsite.sandbox.server import is_loopback


class Command(BaseCommand):
    help = (
        "Serve the fake Auth0 Management API (the sandbox tenant) on a loopback port, so Org Desk "
        "or a benchmark can be pointed at it with AUTH0_DOMAIN=http://127.0.0.1:PORT."
    )
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="loopback address only")
        parser.add_argument("--port", type=int, default=8123, help="0 picks a free port")
        parser.add_argument("--organizations", type=int, default=1200)
        parser.add_argument("--members", type=int, default=1200, help="members of big-co")
        parser.add_argument("--latency", type=float, default=0.0, help="seconds per API call")
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args: Any, **options: Any) -> None:
        host = options["host"]
        if not is_loopback(host):
            raise CommandError(f"Refusing to serve the sandbox on {host!r}: loopback hosts only.")
        if options["organizations"] < 1 or options["members"] < 0 or options["latency"] < 0:
            raise CommandError("--organizations must be >= 1; --members and --latency >= 0.")
        tenant = Tenant(
            seed=options["seed"],
            organizations=options["organizations"],
            big_org_members=options["members"],
            latency=options["latency"],
        )
        try:
            server = serve(tenant, host=host, port=options["port"])
        except OSError as exc:
            raise CommandError(f"Cannot listen on {host}:{options['port']}: {exc}") from exc
        self.stdout.write(f"Sandbox Auth0 Management API on {server.url}")
        self.stdout.write(
            f"Point Org Desk at it with:\n  AUTH0_DOMAIN={server.url} "
            f"AUTH0_CLIENT_ID={tenant.client_id} AUTH0_CLIENT_SECRET={tenant.client_secret}"
        )
        self.stdout.write("Control endpoints under /__sandbox/. Press Ctrl-C to stop.")
        self.stdout.flush()
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
        finally:
            server.shutdown()
            self.stdout.write("Sandbox stopped.")
