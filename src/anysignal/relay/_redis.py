"""The relay's Redis side: a publishing thread and a blocking subscribe loop.

Both use redis-py's synchronous side, in threads of their own: threads serve
a Flask app, an asyncio app and a trio app alike, where redis-py's asyncio
client would serve only asyncio. The publisher writes on a connection of its
own (:class:`~anysignal.relay._line.Line`); the listener uses redis-py's
client, for its subscriptions and health checks. redis-py is imported when a
relay first needs it, so that :mod:`anysignal.relay` imports (for its docs
and its types) without the ``redis`` extra.
"""

from __future__ import annotations

# Imported now, not by the first connection: threads that look the codec up
# for the first time at once (a listener's getaddrinfo, a request's URL
# parsing: as in a new gunicorn worker) can catch it half-imported and fail
# with "LookupError: unknown encoding: idna", a CPython race.
import encodings.idna  # noqa: F401
import importlib
import os
import threading
import time
import typing as t
import urllib.parse
from collections.abc import Callable, Iterator

from ._guard import Guard
from ._handover import Handover
from ._line import Line, ok
from ._logs import Throttled, logger
from ._wire import Envelope, MalformedMessage, Payload, Wire, shorten

_BATCH = 256
"""The most events published in one pipeline (packed into fewer messages), and
the most messages, each a pack of events or one, handed on in one batch."""

_STALL = 0.02
"""The longest a send waits for room in a full queue, and only while the
publisher is healthy: a burst slows its sender down a little, a stalled Redis
never does."""


class _Connection(t.Protocol):
    next_health_check: float


class _PubSub(t.Protocol):
    connection: _Connection | None

    def psubscribe(self, *patterns: str) -> None: ...
    def get_message(
        self, ignore_subscribe_messages: bool = ..., timeout: float | None = ...
    ) -> dict[str, t.Any] | None: ...
    def close(self) -> None: ...


class _Pool(t.Protocol):
    connection_class: Callable[..., t.Any]
    connection_kwargs: dict[str, t.Any]


class _Client(t.Protocol):
    """The part of ``redis.Redis`` that the relay uses."""

    connection_pool: _Pool

    def pubsub(self) -> _PubSub: ...
    def close(self) -> None: ...


class Silent(ConnectionError):
    """The listener heard nothing, not even a reply to a PING, for too long."""


def redacted(url: str) -> str:
    """Return ``url`` with its password replaced by ``***``, for logs and reprs."""
    try:
        parts = urllib.parse.urlsplit(url)
        password = parts.password
    except ValueError:
        return "<a Redis URL that cannot be parsed>"
    if password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=f"{user}:***@{host}").geturl()


class Connector:
    """Makes redis-py clients for one URL, and knows redis-py's errors.

    :param url: A ``redis://`` or ``rediss://`` URL, as :meth:`redis.Redis.from_url`
        takes it.
    :param timeout: Seconds before connecting or a command gives up, so that
        a Redis that hangs cannot hang a thread of the relay.
    :raises ValueError: ``url`` is not a Redis URL; the message hides its password.
    """

    def __init__(self, url: str, timeout: float) -> None:
        try:
            redis = importlib.import_module("redis")
        except ImportError as exc:
            msg = (
                "anysignal.relay needs redis-py: install the 'redis' extra, "
                "as in pip install 'anysignal[redis]'"
            )
            raise ImportError(msg) from exc
        retry = importlib.import_module("redis.retry").Retry
        no_backoff = importlib.import_module("redis.backoff").NoBackoff
        self._from_url: Callable[..., _Client] = redis.Redis.from_url
        self._url = url
        self.url = redacted(url)
        """The URL without its password: the only form logs and reprs show."""
        self.timeout = timeout
        self._options = {
            "socket_timeout": timeout,
            "socket_connect_timeout": timeout,
            # The relay retries with its own backoff, and logs what it drops.
            "retry": retry(no_backoff(), 0),
        }
        self.errors: tuple[type[Exception], ...] = (redis.RedisError, OSError)
        self._response_error: type[Exception] = redis.ResponseError
        self.no_script: type[Exception] = redis.exceptions.NoScriptError
        """The error of ``EVALSHA`` when Redis does not know the script."""
        # Fail now, at Relay(...), not in a thread: from_url checks the URL,
        # and making a connection checks its options (protocol, TLS).
        try:
            client = self.connect()
            pool = client.connection_pool
            client.close()
            self._line_class = pool.connection_class
            self._line_kwargs = _line_options(pool.connection_kwargs)
            self.line()
        except (ValueError, redis.RedisError) as exc:
            reason = shorten(str(exc).replace(url, self.url))
            msg = (
                f"Relay(url=...): {self.url} is not a Redis URL that redis-py "
                f"takes ({reason}). Pass one such as "
                "redis://:password@host:6379/0 or rediss://..."
            )
            # Not chained: the original error may quote the password.
            raise ValueError(msg) from None

    def connect(self, health_check_interval: float = 0) -> _Client:
        """Return a new client; it connects on first use.

        :param health_check_interval: Seconds of silence after which redis-py
            sends a PING on the connection; 0 for never.
        """
        return self._from_url(
            self._url, health_check_interval=health_check_interval, **self._options
        )

    def line(self) -> Line:
        """Return a new line, for one thread; it connects on first use."""
        connection = self._line_class(**self._line_kwargs)
        return Line(connection, self._response_error, self.errors)


def _line_options(pool_options: dict[str, t.Any]) -> dict[str, t.Any]:
    """Return the options of a line's connection, from those of a client's pool.

    A copy, without the maintenance notifications of recent redis-py: their
    handler belongs to a pool, and changes its options from timers, while a
    line reconnects after any error anyway.
    """
    options = dict(pool_options)
    options.pop("maint_notifications_pool_handler", None)
    if "maint_notifications_config" in options:
        options["maint_notifications_config"] = None
    return options


Item: t.TypeAlias = "tuple[bytes, Payload, bytes] | threading.Event | None"
"""What a publisher's queue holds: an event ``(channel, payload, tail)``, a
flush waiting for what was queued before it, or None to stop."""


class Publisher:
    """Publishes checked events from a queue, in order, in a thread of its own.

    Sends never wait for Redis: they hand their checked payload over and
    return, or drop the event when the queue is full (see :meth:`put`). The
    thread takes what has piled up, up to :data:`_BATCH` messages, encodes,
    numbers, stamps and signs each, and publishes them in one pipeline, on
    one connection, consecutive events of a channel packed into one message
    (:meth:`Wire.packed`): the order of the queue is the order Redis receives
    them in.

    Loss is counted once: an event that never reached the socket (the queue
    was full, or Redis unreachable) is counted in :attr:`dropped` and gets no
    number; an event that was numbered and written but whose pipeline failed
    may or may not have reached Redis, and listeners count it as missed from
    the gap in the numbers if it did not.

    :param connector: Makes the publisher's line to Redis.
    :param wire: Assembles and signs each message.
    :param origin: The sending relay's part of each envelope, and the numbers
        to give its events: they outlive a publisher closed and made again,
        so that listeners never take a new event for a replay.
    :param max_pending: Events queued before further sends are dropped.
    :param backoff: The first and the longest wait before reconnecting.
    :param log_interval: Seconds between two warnings about dropped events.
    """

    def __init__(  # noqa: PLR0917 - all needed, none optional
        self,
        connector: Connector,
        wire: Wire,
        origin: tuple[bytes, Iterator[int]],
        max_pending: int,
        backoff: tuple[float, float],
        log_interval: float,
    ) -> None:
        self._connector = connector
        self._wire = wire
        self._origin_part, self._numbers = origin
        self._backoff = backoff
        self._queue: Handover[Item] = Handover(max_pending)
        self._dropped = 0
        self._retry_at = 0.0
        self._delay = backoff[0]
        # Set by a send that waited for room in vain; cleared when this
        # thread takes events from the queue again.
        self._stalled = False
        # Sends count drops in their threads, and this thread in its own.
        self._drop_lock = threading.Lock()
        self._log = Throttled(log_interval)
        self._thread = threading.Thread(
            target=self._run, name="anysignal-relay-publisher", daemon=True
        )
        self._thread.start()

    @property
    def dropped(self) -> int:
        """Events sent in this process that were never published."""
        return self._dropped

    def put(self, channel: bytes, payload: Payload, tail: bytes) -> None:
        """Queue an event for ``channel``; drop it if the queue stays full.

        When the queue is full, waits up to :data:`_STALL` for room if the
        publisher is healthy (in a burst, waiting lets it run and drain the
        queue), and drops the event at once if it is not: Redis was
        unreachable at its last attempt, or a send already waited in vain
        since it last took events from the queue. So the publisher's health
        decides, never the caller's patience: at most one send per stall
        waits, and none stalls an event loop for longer than :data:`_STALL`.

        :param channel: The Redis channel.
        :param payload: The event's keyword arguments, from :meth:`Wire.checked`.
        :param tail: The signal's part of the envelope.
        """
        item = (channel, payload, tail)
        if self._queue.put(item):
            return
        if self._healthy() and self._queue.put_within(item, _STALL):
            return
        self._stalled = True
        self._drop(1, f"the queue is full (max_pending={self._queue.capacity})")

    def _healthy(self) -> bool:
        # Read without a lock: a stale value costs one send a wait of at most
        # _STALL, or one drop while the publisher was recovering.
        return not self._stalled and time.monotonic() >= self._retry_at

    def flush(self, timeout: float) -> bool:
        """Wait until everything queued before this call is published or dropped.

        :param timeout: Seconds to wait at most.
        :return: Whether it was, within ``timeout``.
        """
        done = threading.Event()
        self._queue.put(done, force=True)
        return done.wait(timeout)

    def close(self, timeout: float) -> None:
        """Publish what is queued, then stop the thread and disconnect.

        :param timeout: Seconds to wait at most for the thread to finish.
        """
        self.flush(timeout)
        self._queue.put(None, force=True)
        self._thread.join(timeout)
        if self._thread.is_alive():
            logger.warning("relay publisher did not stop within %s s", timeout)

    def _drop(self, count: int, why: str) -> None:
        if not count:
            return  # a failed pipeline whose events were all numbered
        with self._drop_lock:
            self._dropped += count
            self._log.emit(
                "events dropped",
                "relay dropped %d event(s): %s; %d dropped in all",
                count,
                why,
                self._dropped,
            )

    def _run(self) -> None:
        line: Line | None = None
        running = True
        while running:
            items = self._queue.take(_BATCH, timeout=None)
            if items:
                self._stalled = False  # room again: the next full queue may wait
            batch = [item for item in items if isinstance(item, tuple)]
            if batch and time.monotonic() < self._retry_at:
                self._drop(len(batch), "Redis is unreachable")
            elif batch:
                line = self._publish(line, batch)
            for item in items:
                if isinstance(item, threading.Event):
                    item.set()
                elif item is None:
                    running = False
        if line is not None:
            line.close()

    def _publish(
        self, line: Line | None, batch: list[tuple[bytes, Payload, bytes]]
    ) -> Line | None:
        """Publish ``batch`` in one write; return the line to use next."""
        numbered = 0
        try:
            line = line or self._connector.line()
            now = time.time()
            messages = []
            for channel, payload, tail in batch:
                seq = next(self._numbers)
                numbered += 1
                message = self._wire.message(
                    channel, payload, self._origin_part, seq, tail, now
                )
                messages.append((channel, message))
            packs = self._wire.packed(messages)
            for reply in line.run(*(("PUBLISH", *pack) for pack in packs)):
                ok(reply)
        # Any error, not only Redis's: this thread must outlive them all, or
        # every later send would be dropped by a queue nobody empties.
        except Exception as exc:
            delay = self._back_off(line)
            logger.warning(
                "relay cannot publish to %s (%s); %d event(s) in flight may be "
                "lost (listeners count those they miss); dropping events for %.1f s",
                self._connector.url,
                shorten(str(exc)),
                numbered,
                delay,
                exc_info=not isinstance(exc, self._connector.errors),
            )
            # Numbered events may have reached Redis: listeners count them if
            # not. Those never numbered never left: dropped here.
            self._drop(len(batch) - numbered, "Redis is unreachable")
            return None
        self._delay = self._backoff[0]
        return line

    def _back_off(self, line: Line | None) -> float:
        """After a failed write: drop the line, and wait before the next try.

        Returns this wait; the one after a further failure is twice as long.
        """
        if line is not None:
            line.close()
        delay = self._delay
        self._retry_at = time.monotonic() + delay
        self._delay = min(delay * 2, self._backoff[1])
        return delay


Deliver = Callable[[list[Envelope]], None]
"""Hands a batch of incoming events on, from the listening thread."""


class Listener:
    """Subscribes to a relay's channels and hands incoming events on.

    :meth:`run` blocks: it is meant for a thread. It keeps a subscription
    open, reconnecting with backoff when Redis goes away, until ``stop`` is
    set; it checks ``stop`` at least every ``poll`` seconds.

    A connection can die silently (a peer gone without a word, a frozen
    proxy or NAT entry): redis-py then sends a PING after ``liveness / 3``
    seconds without a byte read, and a connection that still has said nothing
    after ``liveness`` seconds is closed and replaced.

    :param connector: Makes the client.
    :param wire: Checks and decodes each message.
    :param own_id: Returns the id of this process's relay, whose events it skips.
    :param pattern: The channel pattern to subscribe to.
    :param accept: Tells whether an authentic, fresh event is for this
        relay; it logs why not.
    :param guard: Refuses stale and replayed events, and counts missed ones.
    :param log: Where dropped messages are logged.
    :param backoff: The first and the longest wait before reconnecting.
    :param poll: The longest wait for a message before checking ``stop``.
    :param liveness: Seconds of silence after which the connection is dead.
    """

    def __init__(
        self,
        connector: Connector,
        wire: Wire,
        *,
        own_id: Callable[[], str],
        pattern: str,
        accept: Callable[[str, Envelope], bool],
        guard: Guard,
        log: Throttled,
        backoff: tuple[float, float],
        poll: float,
        liveness: float,
    ) -> None:
        self._connector = connector
        self._wire = wire
        self._own_id = own_id
        self._pattern = pattern
        self._accept = accept
        self._guard = guard
        self._log = log
        self._backoff = backoff
        self._poll = poll
        self._liveness = liveness
        self.subscribed = threading.Event()
        """Set while the subscription is confirmed by Redis."""
        self.tried = threading.Event()
        """Set once the first attempt to subscribe has succeeded or failed: by
        then, redis-py has imported what it imports lazily (see
        :meth:`Relay._before_fork`)."""

    def run(self, stop: threading.Event, deliver: Deliver) -> None:
        """Receive events and hand them to ``deliver`` in batches, until ``stop``.

        :param stop: Set it to make this return.
        :param deliver: Called with each batch of accepted events, in order.
        """
        delay = self._backoff[0]
        lost_at: float | None = None
        ping_after = self._liveness / 3
        while not stop.is_set():
            client = self._connector.connect(health_check_interval=ping_after)
            pubsub = client.pubsub()
            try:
                pubsub.psubscribe(self._pattern)
                heard = time.monotonic()
                while not stop.is_set():
                    if not self._receive(pubsub, deliver):
                        heard = self._check_alive(pubsub, heard, ping_after)
                        self._log.report()
                        continue
                    # Silence counts from here: time spent in slow receivers
                    # says nothing of the connection.
                    heard = time.monotonic()
                    if not self.subscribed.is_set():
                        self.subscribed.set()
                        self.tried.set()
                        delay = self._backoff[0]
                        if lost_at is None:
                            # Once per start: a worker's logs say when it hears.
                            logger.info(
                                "relay listening on %s in pid %d",
                                self._connector.url,
                                os.getpid(),
                            )
                        else:
                            logger.warning(
                                "relay listening again on %s after %.1f s: events "
                                "published meanwhile were missed",
                                self._connector.url,
                                time.monotonic() - lost_at,
                            )
                            lost_at = None
            # Any error, not only Redis's (redis-py lets some through, such as
            # a host name that cannot be encoded): a listener that died would
            # leave its worker deaf for good, with nothing but a traceback.
            except Exception as exc:
                if lost_at is None:
                    lost_at = time.monotonic()
                delay = self._wait_after_loss(stop, exc, delay)
            finally:
                pubsub.close()
                client.close()
        self.subscribed.clear()

    def _wait_after_loss(
        self, stop: threading.Event, exc: Exception, delay: float, then: str = ""
    ) -> float:
        """Log a lost connection, wait ``delay`` (or for ``stop``); return the next.

        Any error counts, not only Redis's: a listener that died would leave
        its worker deaf for good. ``then`` says what reconnecting will do.
        """
        self.subscribed.clear()
        self.tried.set()
        logger.warning(
            "relay lost %s (%s); reconnecting in %.1f s%s",
            self._connector.url,
            shorten(str(exc)),
            delay,
            then,
            exc_info=not isinstance(exc, self._connector.errors),
        )
        stop.wait(delay)
        return min(delay * 2, self._backoff[1])

    def _check_alive(self, pubsub: _PubSub, heard: float, ping_after: float) -> float:
        """Return when the connection last read a byte; raise if long ago.

        redis-py moves ``next_health_check`` on at each read, a PONG included.
        """
        connection = pubsub.connection
        if connection is not None:
            heard = max(heard, connection.next_health_check - ping_after)
        silent = time.monotonic() - heard
        if silent > self._liveness:
            msg = (
                f"nothing heard for {silent:.1f} s, not even a reply to a PING "
                f"(liveness={self._liveness} s): the connection is presumed dead"
            )
            raise Silent(msg)
        return heard

    def _receive(self, pubsub: _PubSub, deliver: Deliver) -> bool:
        """Wait for messages, and deliver the accepted ones; False on timeout.

        After the first message, takes whatever else has already arrived, so
        that a burst reaches receivers in one hand-over. Events already taken
        are delivered even when the connection breaks in the middle: the
        guard has counted them as received.
        """
        message = pubsub.get_message(timeout=self._poll)
        if message is None:
            return False
        batch: list[Envelope] = []
        try:
            for taken in range(1, _BATCH + 1):
                if message["type"] == "pmessage":
                    self._decode_into(batch, message["channel"], message["data"])
                if taken == _BATCH:
                    break  # the rest waits for the next call: nothing is lost
                message = pubsub.get_message(timeout=0)
                if message is None:
                    break
        finally:
            if batch:
                self._deliver(deliver, batch)
        return True

    @staticmethod
    def _deliver(deliver: Deliver, batch: list[Envelope]) -> None:
        # Receivers' exceptions are already caught by the robust sends that
        # deliver uses; anything else must not end the listener either.
        try:
            deliver(batch)
        except Exception:
            logger.exception("relay could not deliver %d event(s)", len(batch))

    def _decode_into(self, batch: list[Envelope], channel: bytes, data: bytes) -> None:
        """Check and decode each envelope of a message: a pack of them, or one.

        Each envelope stands alone: one that is malformed is dropped, and
        the others of its pack are still delivered.
        """
        name = channel.decode(errors="replace")
        own_id = self._own_id()
        try:
            envelopes = self._wire.unpacked(data)
        except MalformedMessage as exc:
            self._log_malformed(name, exc)
            return
        for envelope in envelopes:
            try:
                event = self._wire.decode(channel, envelope)
            except MalformedMessage as exc:
                self._log_malformed(name, exc)
                continue
            if (
                event.origin.id != own_id
                and self._guard.admit(event)
                and self._accept(name, event)
            ):
                batch.append(event)

    def _log_malformed(self, channel: str, exc: MalformedMessage) -> None:
        self._log.emit(
            "malformed messages",
            "relay dropped a message on %r: %s",
            shorten(channel),
            exc,
        )
