"""`manage.py run_with_worker [addrport]` (what `make run` runs): the development server and the
jobs worker together, one command, one Ctrl-C.

On the embedded sandbox tenant the two processes would each hold a tenant of their own, so the
sandbox is served over HTTP first (`manage.py sandbox_api` on a free loopback port) and both are
pointed at it (SANDBOX_URL): what a job changes is what the pages show."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

STOP_GRACE = 10.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, process: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise CommandError("The sandbox tenant stopped while starting.")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise CommandError(f"The sandbox tenant did not listen on port {port}.")


class Command(BaseCommand):
    help = "Run the development server and the jobs worker together (Ctrl-C stops both)."
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000")
        parser.add_argument("--noreload", action="store_true", help="runserver without reloading")

    def handle(self, *args: Any, **options: Any) -> None:
        manage = [sys.executable, str(settings.BASE_DIR / "manage.py")]
        env = dict(os.environ)
        processes: list[tuple[str, subprocess.Popen[bytes]]] = []
        try:
            if settings.AUTH0_SANDBOX and not env.get("SANDBOX_URL"):
                port = free_port()
                sandbox = subprocess.Popen(
                    [
                        *manage,
                        "sandbox_api",
                        f"--port={port}",
                        f"--organizations={settings.SANDBOX_ORGANIZATIONS}",
                        f"--members={settings.SANDBOX_BIG_ORG_MEMBERS}",
                        f"--latency={settings.SANDBOX_LATENCY}",
                    ],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    start_new_session=True,
                )
                processes.append(("sandbox", sandbox))
                wait_for_port(port, sandbox)
                env["SANDBOX_URL"] = f"http://127.0.0.1:{port}"
            worker = subprocess.Popen([*manage, "jobs_worker"], env=env, start_new_session=True)
            processes.append(("worker", worker))
            server = [*manage, "runserver", options["addrport"]]
            if options["noreload"]:
                server.append("--noreload")
            processes.append(("web", subprocess.Popen(server, env=env, start_new_session=True)))
            while all(p.poll() is None for _, p in processes):
                time.sleep(0.2)
            ended = next(name for name, p in processes if p.poll() is not None)
            self.stderr.write(f"The {ended} process stopped; stopping the others.")
        except KeyboardInterrupt:
            pass
        finally:
            # Each child leads a process group of its own (runserver's reloader has a child
            # too): the group is stopped, so nothing is left behind.
            for _, process in reversed(processes):
                if process.poll() is None:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGTERM)
            deadline = time.monotonic() + STOP_GRACE
            for _, process in processes:
                try:
                    process.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
