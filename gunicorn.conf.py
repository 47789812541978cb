"""gunicorn's configuration for Org Desk (`gunicorn -c gunicorn.conf.py adminsite.wsgi`).

Every value is set here rather than left to gunicorn's defaults, and the ones a deployment tunes
are read from the environment. gunicorn sits behind the SSO proxy, never on the internet: the
proxy buffers slow clients, so short keep-alive and strict request limits are safe here.
"""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import tempfile
from typing import Any


def _int(name: str, default: int, *fallbacks: str) -> int:
    """The first of `name`, then `fallbacks`, set in the environment, as an int; else default."""
    for key in (name, *fallbacks):
        value = os.environ.get(key, "").strip()
        if value:
            try:
                return int(value)
            except ValueError:
                raise SystemExit(
                    f"gunicorn.conf.py: {key}={value!r} is not a whole number."
                ) from None
    return default


# Where to listen: the address the SSO proxy reaches (`make serve` sets it from HOST and PORT).
bind = [os.environ.get("GUNICORN_BIND", "").strip() or "127.0.0.1:8000"]

# Processes × threads. A page waits on Auth0 most of the time, so threads serve the waiting;
# WEB_CONCURRENCY is the name some platforms set.
workers = _int("GUNICORN_WORKERS", 2, "WEB_CONCURRENCY")
threads = _int("GUNICORN_THREADS", 4)
# gthread, sending each answer's headers and body in one send (adminsite/gunicorn_worker.py).
worker_class = "adminsite.gunicorn_worker.ThreadWorker"

# A page makes at most a token request and two API calls of AUTH0_TIMEOUT (10 s) each, plus
# short rate-limit waits: a worker silent for 60 s is stuck and is restarted.
timeout = _int("GUNICORN_TIMEOUT", 60)
# On a restart or deploy, requests in flight get this long to finish.
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
# Seconds an idle connection from the proxy is kept open.
keepalive = _int("GUNICORN_KEEPALIVE", 5)

# Request limits: anything longer is refused (400) before Django sees it. Org Desk's longest
# URLs (a member id and a paging cursor) are well under 2 kB; the proxy adds a few headers,
# and its session cookie can be several kB, hence the larger field size.
limit_request_line = _int("GUNICORN_LIMIT_REQUEST_LINE", 4094)
limit_request_fields = _int("GUNICORN_LIMIT_REQUEST_FIELDS", 64)
limit_request_field_size = _int("GUNICORN_LIMIT_REQUEST_FIELD_SIZE", 16384)

# Org Desk logs one line per request itself (the `orgdesk.request` logger: route, status,
# duration, upstream calls, the person; JSON with LOG_FORMAT=json), so gunicorn's access log is
# off unless GUNICORN_ACCESS_LOG names where to write it (`-`: stdout). Its format keeps the
# path without the query string (a search for a member's email is one), the status, bytes and
# the time taken in microseconds. gunicorn's own messages go to stderr.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "").strip() or None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(D)sus "%(a)s"'

# The heartbeat file on memory, not disk, where the system has /dev/shm (containers).
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"


# Prometheus metrics from every worker (adminsite/metrics.py): prometheus_client's multiprocess
# mode keeps each worker's values in files in PROMETHEUS_MULTIPROC_DIR, and /metrics adds them
# up. The variable must be set before the app imports prometheus_client, so it is set here, in
# the master, when gunicorn reads this file: to the environment's folder, or to a fresh one of
# our own, deleted when the master exits. The folder exists from here on (`--check-config`
# loads the app in this process); on_starting empties it: old values are not this run's.
_MASTER_PID = os.getpid()
_OWN_METRICS_DIR = os.path.join(tempfile.gettempdir(), f"orgdesk-metrics-{_MASTER_PID}")
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip():
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _OWN_METRICS_DIR
os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], mode=0o700, exist_ok=True)


def _remove_own_metrics_dir() -> None:
    # Workers are forked from the master and leave through sys.exit: only the master deletes.
    if os.getpid() == _MASTER_PID and os.environ["PROMETHEUS_MULTIPROC_DIR"] == _OWN_METRICS_DIR:
        shutil.rmtree(_OWN_METRICS_DIR, ignore_errors=True)


atexit.register(_remove_own_metrics_dir)


def on_starting(server: Any) -> None:
    """In the master, before the first worker: an empty metrics folder."""
    folder = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    os.makedirs(folder, mode=0o700, exist_ok=True)
    for name in glob.glob(os.path.join(folder, "*.db")):
        os.remove(name)


def child_exit(server: Any, worker: Any) -> None:
    """A worker stopped: its live gauges (jobs running, rate budget) no longer count."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server: Any) -> None:
    _remove_own_metrics_dir()
