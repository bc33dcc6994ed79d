"""The relay's Redis side: a publishing thread and a blocking subscribe loop.

Both use redis-py's synchronous client, in threads of their own: threads serve
a Flask app, an asyncio app and a trio app alike, where redis-py's asyncio
client would serve only asyncio. redis-py is imported when a relay first
needs it, so that :mod:`anysignal.relay` imports (for its docs and its types)
without the ``redis`` extra.
"""

from __future__ import annotations

import importlib
import logging
import queue
import threading
import time
import typing as t
from collections import OrderedDict
from collections.abc import Callable

from ._relay_wire import Envelope, MalformedMessage, Wire

_logger = logging.getLogger("anysignal.relay")

_BATCH = 256
"""The most messages published in one pipeline, or handed on in one batch."""

_KNOWN_ORIGINS = 1024
"""Origins whose last sequence number the listener remembers, to report gaps."""


class _PubSub(t.Protocol):
    def psubscribe(self, *patterns: str) -> None: ...
    def get_message(
        self, ignore_subscribe_messages: bool = ..., timeout: float | None = ...
    ) -> dict[str, t.Any] | None: ...
    def close(self) -> None: ...


class _Pipeline(t.Protocol):
    def publish(self, channel: str, message: bytes) -> object: ...
    def execute(self) -> object: ...


class _Client(t.Protocol):
    """The part of ``redis.Redis`` that the relay uses."""

    def pubsub(self) -> _PubSub: ...
    def pipeline(self, transaction: bool = ...) -> _Pipeline: ...
    def close(self) -> None: ...


class Connector:
    """Makes redis-py clients for one URL, and knows redis-py's errors.

    :param url: A ``redis://`` or ``rediss://`` URL, as :meth:`redis.Redis.from_url`
        takes it.
    :param timeout: Seconds before connecting or a command gives up, so that
        a Redis that hangs cannot hang a thread of the relay.
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
        self.url = url
        self.timeout = timeout
        self._options = {
            "socket_timeout": timeout,
            "socket_connect_timeout": timeout,
            # The relay retries with its own backoff, and logs what it drops.
            "retry": retry(no_backoff(), 0),
        }
        self.errors: tuple[type[Exception], ...] = (redis.RedisError, OSError)
        # Fail now, at Relay(...), not in a thread: from_url checks the URL.
        self.connect().close()

    def connect(self) -> _Client:
        """Return a new client; it connects on first use."""
        return self._from_url(self.url, **self._options)


class Publisher:
    """Publishes encoded events from a queue, in order, in a thread of its own.

    Sends never wait for Redis: they put bytes on the queue and return. The
    thread takes what has piled up, up to :data:`_BATCH` messages, and
    publishes it in one pipeline, on one connection: the order of the queue
    is the order Redis receives them in. When Redis is unreachable, events
    are dropped and counted (delivery is at-most-once), and the thread tries
    again after a backoff; the count is logged when Redis is back.

    :param connector: Makes the client.
    :param wire: Signs each message.
    :param max_pending: Events queued before further sends are dropped.
    :param backoff: The first and the longest wait before reconnecting.
    """

    def __init__(
        self,
        connector: Connector,
        wire: Wire,
        max_pending: int,
        backoff: tuple[float, float],
    ) -> None:
        self._connector = connector
        self._wire = wire
        self._backoff = backoff
        self._queue: queue.Queue[tuple[str, bytes] | threading.Event | None] = (
            queue.Queue(max_pending)
        )
        self._dropped = 0
        # Whether the last attempt to publish worked; read by put() unlocked:
        # a stale value only makes one put wait, or not wait, needlessly.
        self._reachable = True
        self._thread = threading.Thread(
            target=self._run, name="anysignal-relay-publisher", daemon=True
        )
        self._thread.start()

    def put(self, channel: str, body: bytes) -> None:
        """Queue ``body`` for ``channel``.

        When the queue is full and Redis is reachable, waits up to the
        connector's timeout for room: a burst slows its sender down rather
        than losing events. When Redis is unreachable, drops it at once.

        :param channel: The Redis channel.
        :param body: An unsigned envelope: signing happens in the thread.
        """
        try:
            self._queue.put((channel, body), self._reachable, self._connector.timeout)
        except queue.Full:
            self._dropped += 1
            if self._dropped == 1:
                _logger.warning(
                    "relay queue full (max_pending=%d): dropping events until "
                    "Redis catches up",
                    self._queue.maxsize,
                )

    def flush(self, timeout: float) -> bool:
        """Wait until everything queued before this call is published or dropped.

        :param timeout: Seconds to wait at most.
        :return: Whether it was, within ``timeout``.
        """
        done = threading.Event()
        try:
            self._queue.put(done, timeout=timeout)
        except queue.Full:
            return False
        return done.wait(timeout)

    def close(self, timeout: float) -> None:
        """Publish what is queued, then stop the thread and disconnect.

        :param timeout: Seconds to wait at most for the thread to finish.
        """
        self.flush(timeout)
        # The queue may be full again when Redis is down: the thread still
        # drains it, so a blocking put ends as soon as it has made room.
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            _logger.warning("relay publisher did not stop within %s s", timeout)
            return
        self._thread.join(timeout)

    def _run(self) -> None:
        client: _Client | None = None
        retry_at = 0.0
        delay = self._backoff[0]
        running = True
        while running:
            items = [self._queue.get()]
            while len(items) < _BATCH:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            batch = [item for item in items if isinstance(item, tuple)]
            if batch and time.monotonic() >= retry_at:
                try:
                    client = client or self._connector.connect()
                    pipe = client.pipeline(transaction=False)
                    for channel, body in batch:
                        pipe.publish(channel, self._wire.sign(body))
                    pipe.execute()
                    batch = []
                # Any error, not only Redis's: this thread must outlive them all,
                # or every later send would wait for a queue nobody empties.
                except Exception as exc:
                    if client is not None:
                        client.close()
                        client = None
                    self._reachable = False
                    retry_at = time.monotonic() + delay
                    _logger.warning(
                        "relay cannot publish to %s (%s); retrying in %.1f s, "
                        "dropping events until then",
                        self._connector.url,
                        exc,
                        delay,
                        exc_info=not isinstance(exc, self._connector.errors),
                    )
                    delay = min(delay * 2, self._backoff[1])
                else:
                    self._reachable = True
                    delay = self._backoff[0]
                    self._report_dropped()
            self._dropped += len(batch)
            for item in items:
                if isinstance(item, threading.Event):
                    item.set()
                elif item is None:
                    running = False
        if client is not None:
            client.close()

    def _report_dropped(self) -> None:
        # Read and reset without a lock: a put() racing with this may count
        # one drop twice or not at all in the log, never in delivery.
        dropped, self._dropped = self._dropped, 0
        if dropped:
            _logger.warning(
                "relay dropped %d event(s): Redis was unreachable or too slow",
                dropped,
            )


Deliver = Callable[[list[Envelope]], None]
"""Hands a batch of incoming events on, from the listening thread."""


class Listener:
    """Subscribes to a relay's channels and hands incoming events on.

    :meth:`run` blocks: it is meant for a thread. It keeps a subscription
    open, reconnecting with backoff when Redis goes away, until ``stop`` is
    set; it checks ``stop`` at least every ``poll`` seconds.

    :param connector: Makes the client.
    :param wire: Checks and decodes each message.
    :param pattern: The channel pattern to subscribe to.
    :param accept: Tells whether an envelope is for this relay; it logs why not.
    :param backoff: The first and the longest wait before reconnecting.
    :param poll: The longest wait for a message before checking ``stop``.
    """

    def __init__(
        self,
        connector: Connector,
        wire: Wire,
        *,
        pattern: str,
        accept: Callable[[str, Envelope], bool],
        backoff: tuple[float, float],
        poll: float,
    ) -> None:
        self._connector = connector
        self._wire = wire
        self._pattern = pattern
        self._accept = accept
        self._backoff = backoff
        self._poll = poll
        self.subscribed = threading.Event()
        """Set while the subscription is confirmed by Redis."""
        self._last_seq: OrderedDict[str, int] = OrderedDict()

    def run(self, stop: threading.Event, deliver: Deliver) -> None:
        """Receive events and hand them to ``deliver`` in batches, until ``stop``.

        :param stop: Set it to make this return.
        :param deliver: Called with each batch of accepted events, in order.
        """
        delay = self._backoff[0]
        lost_at: float | None = None
        while not stop.is_set():
            client = self._connector.connect()
            pubsub = client.pubsub()
            try:
                pubsub.psubscribe(self._pattern)
                while not stop.is_set():
                    batch = self._receive(pubsub)
                    if batch is None:
                        continue
                    if not self.subscribed.is_set():
                        self.subscribed.set()
                        delay = self._backoff[0]
                        if lost_at is not None:
                            _logger.warning(
                                "relay listening again on %s after %.1f s: events "
                                "published meanwhile were missed",
                                self._connector.url,
                                time.monotonic() - lost_at,
                            )
                            lost_at = None
                    if batch:
                        self._deliver(deliver, batch)
            except self._connector.errors as exc:
                self.subscribed.clear()
                if lost_at is None:
                    lost_at = time.monotonic()
                _logger.warning(
                    "relay lost %s (%s); reconnecting in %.1f s",
                    self._connector.url,
                    exc,
                    delay,
                )
                stop.wait(delay)
                delay = min(delay * 2, self._backoff[1])
            finally:
                pubsub.close()
                client.close()
        self.subscribed.clear()

    @staticmethod
    def _deliver(deliver: Deliver, batch: list[Envelope]) -> None:
        # Receivers' exceptions are already caught by the robust sends that
        # deliver uses; anything else must not end the listener either.
        try:
            deliver(batch)
        except Exception:
            _logger.exception("relay could not deliver %d event(s)", len(batch))

    def _receive(self, pubsub: _PubSub) -> list[Envelope] | None:
        """Wait for messages; return the accepted ones, or None on timeout.

        After the first message, takes whatever else has already arrived, so
        that a burst reaches receivers in one hand-over.
        """
        message = pubsub.get_message(timeout=self._poll)
        if message is None:
            return None
        batch: list[Envelope] = []
        for taken in range(1, _BATCH + 1):
            if message["type"] == "pmessage":
                self._decode_into(batch, message["channel"], message["data"])
            if taken == _BATCH:
                break  # the rest waits for the next call: nothing is lost
            message = pubsub.get_message(timeout=0)
            if message is None:
                break
        return batch

    def _decode_into(self, batch: list[Envelope], channel: bytes, data: bytes) -> None:
        try:
            event = self._wire.decode(data)
        except MalformedMessage as exc:
            _logger.warning(
                "relay dropped a message on %r: %s",
                channel.decode(errors="replace"),
                exc,
            )
            return
        if self._accept(channel.decode(errors="replace"), event) and self._in_order(
            event
        ):
            batch.append(event)

    def _in_order(self, event: Envelope) -> bool:
        """Whether ``event`` comes after its origin's last one; log any gap.

        Each origin numbers its events in the order it publishes them, so an
        event numbered at or below the last one seen is a replay (a signed
        message published again by someone with access to Redis): dropped.
        """
        last = self._last_seq.pop(event.origin.id, None)
        if last is not None and event.seq <= last:
            self._last_seq[event.origin.id] = last
            _logger.warning(
                "relay dropped a replayed event #%d from %s (last seen: #%d)",
                event.seq,
                event.origin.id,
                last,
            )
            return False
        self._last_seq[event.origin.id] = event.seq
        if len(self._last_seq) > _KNOWN_ORIGINS:
            self._last_seq.popitem(last=False)
        if last is not None and event.seq > last + 1:
            _logger.warning(
                "relay missed %d event(s) from %s (pid %d on %s)",
                event.seq - last - 1,
                event.origin.id,
                event.origin.pid,
                event.origin.host,
            )
        return True
