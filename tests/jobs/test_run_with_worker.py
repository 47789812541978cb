"""`make run`'s one command: web server, jobs worker and (on the embedded sandbox) the sandbox
over HTTP start together and one Ctrl-C (SIGINT) stops every one of them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from adminsite.jobs.management.commands.run_with_worker import free_port

ROOT = Path(__file__).resolve().parents[2]


def children(pid: int) -> set[int]:
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            if ppid == pid:
                found.add(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
def test_one_command_starts_web_worker_and_sandbox_and_one_ctrl_c_stops_them(tmp_path) -> None:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("AUTH0_", "DJANGO_", "SANDBOX_"))
    }
    env.update(
        DEBUG="true",
        DATABASE_URL=f"sqlite:///{tmp_path / 'run.sqlite3'}",
        SANDBOX_ORGANIZATIONS="20",
        SANDBOX_BIG_ORG_MEMBERS="20",
        DJANGO_SETTINGS_MODULE="adminsite.settings",
    )
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True
    )
    port = free_port()
    parent = subprocess.Popen(
        [sys.executable, "manage.py", "run_with_worker", f"127.0.0.1:{port}", "--noreload"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok:
                    break
            except requests.RequestException:
                time.sleep(0.2)
        else:
            raise AssertionError("the web server did not answer")
        started = children(parent.pid)
        commands = {(Path("/proc") / str(p) / "cmdline").read_bytes() for p in started}
        assert len(started) == 3, commands  # sandbox_api, jobs_worker, runserver
        assert any(b"jobs_worker" in c for c in commands)
        assert any(b"sandbox_api" in c for c in commands)
        parent.send_signal(signal.SIGINT)
        assert parent.wait(20) == 0
        time.sleep(0.5)
        assert not [p for p in started if alive(p)]
    finally:
        if parent.poll() is None:
            parent.kill()
