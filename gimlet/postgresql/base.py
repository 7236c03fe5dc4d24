"""Django's PostgreSQL backend, with a health check that needs no round trip.

With CONN_HEALTH_CHECKS, Django runs `SELECT 1` on a persistent connection
before the first query of each request, a round trip to the server on
every request. The server speaks on an idle connection only to end it: a
restart, a failover or `pg_terminate_backend()` sends an error and closes
the socket, and a proxy that drops the connection closes it. So a socket
with nothing to read belongs to a live connection, and one with data or an
end of file does not. That check is a `select()` with no timeout, local to
this process.

A connection that raised an error keeps Django's full check
(`is_usable()`, which runs `SELECT 1`) at the end of its request.

NOTE: a server that vanishes without closing its sockets (a host that
loses power, a network that drops packets) passes this check, so the
request's first query fails. Django's check would fail its `SELECT 1`
there too, after a TCP timeout. Either way the connection is replaced
after that request.
"""

import select

from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def close_if_health_check_failed(self):
        if self.pool:
            return super().close_if_health_check_failed()
        if (
            self.connection is None
            or not self.health_check_enabled
            or self.health_check_done
        ):
            return
        if not self.socket_is_quiet():
            self.close()
        self.health_check_done = True

    def socket_is_quiet(self):
        """Return whether the idle connection's socket has nothing to read."""
        connection = self.connection
        if connection is None or connection.closed or connection.broken:
            return False
        try:
            readable, _, _ = select.select([connection.fileno()], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable
