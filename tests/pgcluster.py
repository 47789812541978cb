"""A throwaway PostgreSQL cluster for the tests and the benchmark, from Debian's `postgresql`.

    python -m tests.pgcluster run -- pytest -m db      # DATABASE_URL points at the cluster

`run` makes a cluster in a temporary folder (`initdb`, trust on loopback only), starts it on a
free port, creates the database `orgdesk`, runs the command with DATABASE_URL set, then stops
the cluster and deletes the folder, whatever the command did; the command's exit code is the
exit code. As root (CI, containers) the server runs as the `postgres` user, which Debian's
package creates, because PostgreSQL refuses to run as root. Nothing is left behind: no service
is enabled, no system cluster is touched.

`start()` / `stop()` do the same for Python code (the benchmark and the two-instance test).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

DATABASE = "orgdesk"


def bindir() -> str:
    """The newest installed server's bin folder (Debian keeps them side by side)."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0,
    )
    if found:
        return os.path.dirname(found[-1])
    initdb = shutil.which("initdb")
    if initdb:
        return os.path.dirname(initdb)
    raise SystemExit(
        "PostgreSQL's server is not installed: `apt-get install postgresql` (make test does it)."
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_server_user(command: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return command
    return ["runuser", "-u", "postgres", "--", *command]


@dataclass
class Cluster:
    folder: str
    port: int
    bindir: str

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{DATABASE}"

    @property
    def admin_url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"


def start(database: str = DATABASE) -> Cluster:
    """A new cluster, started, with an empty `database`."""
    binaries = bindir()
    folder = tempfile.mkdtemp(prefix="orgdesk-pg-")
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    data = os.path.join(folder, "data")
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE, "check": True}
    try:
        subprocess.run(
            _as_server_user(
                [
                    f"{binaries}/initdb",
                    "-D",
                    data,
                    "-U",
                    "postgres",
                    "--auth=trust",
                    "--encoding=UTF8",
                    "--locale=C",
                    "--no-sync",
                ]
            ),
            **quiet,  # type: ignore[call-overload]
        )
        port = free_port()
        options = (
            f"-h 127.0.0.1 -p {port} -k {folder} -c fsync=off -c synchronous_commit=off "
            "-c full_page_writes=off -c max_connections=200"
        )
        subprocess.run(
            _as_server_user(
                [
                    f"{binaries}/pg_ctl",
                    "-D",
                    data,
                    "-o",
                    options,
                    "-l",
                    os.path.join(folder, "server.log"),
                    "-w",
                    "-t",
                    "60",
                    "start",
                ]
            ),
            **quiet,  # type: ignore[call-overload]
        )
        cluster = Cluster(folder=folder, port=port, bindir=binaries)
        subprocess.run(
            [
                f"{binaries}/createdb",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                "postgres",
                database,
            ],
            **quiet,  # type: ignore[call-overload]
        )
        return cluster
    except subprocess.CalledProcessError as exc:
        log = os.path.join(folder, "server.log")
        detail = ""
        if os.path.exists(log):
            with open(log) as server_log:
                detail = server_log.read()[-2000:]
        shutil.rmtree(folder, ignore_errors=True)
        raise SystemExit(
            f"Could not start a throwaway PostgreSQL: {exc.stderr.decode(errors='replace')}{detail}"
        ) from exc


def stop(cluster: Cluster) -> None:
    subprocess.run(
        _as_server_user(
            [
                f"{cluster.bindir}/pg_ctl",
                "-D",
                os.path.join(cluster.folder, "data"),
                "-m",
                "fast",
                "-w",
                "stop",
            ]
        ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    shutil.rmtree(cluster.folder, ignore_errors=True)


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[0] != "run" or argv[1] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    started = time.monotonic()
    cluster = start()
    print(
        f"Throwaway PostgreSQL on 127.0.0.1:{cluster.port} "
        f"({time.monotonic() - started:.1f} s to start)",
        flush=True,
    )
    try:
        env = dict(os.environ, DATABASE_URL=cluster.url)
        return subprocess.call(argv[2:], env=env)
    finally:
        stop(cluster)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
