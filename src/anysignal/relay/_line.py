"""A relay thread's own connection to Redis, used without redis-py's client.

redis-py's client takes a connection from a pool, and builds a pipeline and
response callbacks, for every call: several times the Python that packing
the command takes, all of it before the command leaves, so all of it in
each event's latency. A publisher, and a Streams listener, is one thread
with one connection, so each keeps one: a :class:`Line` packs commands and
parses replies with redis-py, and skips the rest. The Performance page gives
the numbers.
"""

from __future__ import annotations

import time
import typing as t
from collections.abc import Sequence

Command: t.TypeAlias = Sequence[bytes | str | int]
"""A command and its arguments, such as ``("PUBLISH", channel, message)``."""


class _Connection(t.Protocol):
    """The part of ``redis.connection.AbstractConnection`` that a line uses."""

    def pack_commands(self, commands: Sequence[Command]) -> list[bytes]: ...
    def send_packed_command(self, command: list[bytes]) -> None: ...
    def can_read(self) -> bool: ...
    def read_response(self, disable_decoding: bool = ...) -> t.Any: ...
    def disconnect(self) -> None: ...


_IDLE = 1.0
"""Seconds unused after which a line checks, before it writes, that Redis has
not closed its connection: Redis's idle ``timeout`` counts whole seconds, and
the check adds system calls to the latency of every write that makes it (a
write on a connection closed sooner fails, as any broken write does)."""


class Line:
    """One connection to Redis, for one thread: commands out in one write.

    It connects on first use, and again after Redis closed it while it was
    idle (an idle ``timeout``, ``CLIENT KILL``, a proxy's limit), before the
    next write, as redis-py's pool does; a write or a read that fails closes
    it, and the thread makes a new line. Replies come back as redis-py parses
    them, bytes never decoded, errors in their places.

    :param connection: A connection of redis-py's, made for this line alone.
    :param response_error: ``redis.ResponseError``: an error reply.
    :param errors: Everything that redis-py raises when a connection breaks.
    """

    def __init__(
        self,
        connection: _Connection,
        response_error: type[Exception],
        errors: tuple[type[Exception], ...],
    ) -> None:
        self._connection = connection
        self._response_error = response_error
        self._errors = errors
        self._used_at: float | None = None  # None: not connected yet

    def run(self, *commands: Command) -> list[t.Any]:
        """Send ``commands`` in one write, and return their replies, in order.

        An error reply takes the place of its reply, as a ``redis.ResponseError``
        (see :func:`ok`): every reply is read, so the connection stays in step
        with Redis.

        :raises redis.RedisError: The connection failed: it is closed.
        """
        connection = self._connection
        now = time.monotonic()
        if self._used_at is not None and now - self._used_at > _IDLE:
            # Something to read before anything was asked: Redis closed the
            # connection meanwhile. Writing on would lose this write.
            try:
                closed = connection.can_read()
            except self._errors:
                closed = True
            if closed:
                connection.disconnect()
        self._used_at = now
        connection.send_packed_command(connection.pack_commands(commands))
        replies = []
        for _ in commands:
            try:
                replies.append(connection.read_response(disable_decoding=True))
            except self._response_error as exc:
                replies.append(exc)
        return replies

    def close(self) -> None:
        """Close the connection; a later :meth:`run` opens a new one."""
        self._connection.disconnect()
        self._used_at = None


def ok(reply: object) -> t.Any:
    """Return ``reply``, from :meth:`Line.run`, or raise it if it is an error."""
    if isinstance(reply, Exception):
        raise reply
    return reply
