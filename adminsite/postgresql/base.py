"""Django's PostgreSQL backend, with a health check that costs no round trip.

Org Desk keeps each thread's connection between requests (`DB_CONN_MAX_AGE`) and checks it
before its first use in a request (`CONN_HEALTH_CHECKS`): Django's check is a `SELECT 1`, one
more round trip on every request that writes the audit log, after the connection has sat idle.

A connection that sat idle has nothing to read unless the server spoke: a restart, an
administrator's `pg_terminate_backend` or an idle timeout each send an error and close the
socket. So the check looks at the socket without waiting (a poll with no timeout) and asks the
server with Django's `SELECT 1` only when something is there, or when the connection is not
idle and healthy by its own account. A network that drops the connection without a word is
caught by the first query instead, as it would be between the check and the query anyway.
"""

from __future__ import annotations

import select

from django.db.backends.postgresql import base
from psycopg import pq


def _readable(fileno: int) -> bool:
    """True if the socket has something to read (or is closed) right now; no waiting."""
    poller = select.poll()
    poller.register(fileno, select.POLLIN | select.POLLPRI)
    return bool(poller.poll(0))


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        connection = self.connection
        if connection is None or connection.closed or connection.broken:
            return False
        pgconn = connection.pgconn
        idle = (
            pgconn.status == pq.ConnStatus.OK
            and pgconn.transaction_status == pq.TransactionStatus.IDLE
        )
        try:
            quiet = idle and not _readable(pgconn.socket)
        except (OSError, ValueError, connection.OperationalError):
            return False
        return quiet or super().is_usable()
