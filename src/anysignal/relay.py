"""Relay named signals between processes through Redis pub/sub.

Needs the ``redis`` extra (``pip install 'anysignal[redis]'``). :mod:`anysignal`
itself never imports this module. See :doc:`/relay` for the guarantees.

A :class:`Relay` connects one receiver to each signal it relays. That receiver
publishes every local send; each other process's relay re-sends the event to
its own receivers, with an :class:`Origin` as the sender. Events whose sender
is an :class:`Origin` are never published again, so events cannot loop.
"""

from __future__ import annotations

import atexit
import logging
import os
import socket
import threading
import typing as t
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager

import anyio
import anyio.from_thread
import anyio.to_thread

from ._namespace import NamedSignal
from ._relay_redis import Connector, Listener, Publisher
from ._relay_wire import (
    Codec,
    Envelope,
    JSONCodec,
    MalformedMessage,
    Origin,
    PayloadError,
    TaggedCodec,
    Wire,
    origin_part,
    signal_part,
)
from .framework import inline

if t.TYPE_CHECKING:
    from types import TracebackType

    from flask import Flask
    from quart import Quart

    from ._receivers import AsyncWrapper

__all__ = [
    "Codec",
    "JSONCodec",
    "MalformedMessage",
    "Origin",
    "PayloadError",
    "Relay",
    "TaggedCodec",
]

for _public in (JSONCodec, MalformedMessage, Origin, PayloadError, TaggedCodec):
    _public.__module__ = __name__
del _public

_logger = logging.getLogger("anysignal.relay")

_PUBLISH_FIRST = 1 << 62
"""The priority of the relay's receivers: above any a program would choose, so
that an event that cannot be encoded raises before any local receiver runs
(in ``send`` and ``send_async``; the robust sends log it as that receiver's
failure instead, and concurrent sends start every receiver at once)."""

_UNKNOWN_NAMES_LOGGED = 1024
"""Unknown signal names warned about once each; further ones are not recorded."""

SyncDeliver: t.TypeAlias = Callable[[NamedSignal, Origin, dict[str, t.Any]], object]
AsyncDeliver: t.TypeAlias = Callable[
    [NamedSignal, Origin, dict[str, t.Any]], Awaitable[object]
]


class _ProcessState:
    """What a relay keeps per process: a forked child starts afresh."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.origin = Origin(self.pid, socket.gethostname(), uuid.uuid4().hex)
        self.origin_part = origin_part(self.origin)
        self.seq = 0
        self.publisher: Publisher | None = None


class Relay:
    """Relays chosen named signals between processes through Redis pub/sub.

    Delivery is at-most-once: an event published while a listener is
    disconnected from Redis, or while Redis is down, is lost (and logged).

    :param url: The Redis server, as a ``redis://`` or ``rediss://`` URL.
    :param prefix: Each signal travels on the channel ``prefix + signal.name``;
        relays with the same prefix on the same server hear each other. Give
        each app its own prefix.
    :param signals: Signals to relay from the start, as with :meth:`add`.
    :param codec: Encodes keyword arguments that JSON has no type for; by
        default none are accepted. See :class:`TaggedCodec`.
    :param secret: A key shared by every relay of the app. When given,
        messages are signed with HMAC-SHA256 and unsigned or wrongly signed
        ones are dropped, so that access to Redis alone cannot inject events;
        a signed event published again is dropped too, as its number is not
        after the last one seen from its origin.
    :param max_message_bytes: The largest message sent or accepted. A larger
        send raises :class:`PayloadError`; a larger incoming message is dropped.
    :param max_pending: Events waiting to be published before further ones
        are dropped, so that a Redis outage cannot exhaust memory.
    :param timeout: Seconds before connecting to Redis or a command gives up.
    :param backoff: The first and the longest wait, in seconds, before
        reconnecting to Redis; the wait doubles after each failed attempt.
    :param poll_interval: The longest a listener waits for a message before
        checking whether it should stop: how long stopping may take.
    :raises ImportError: redis-py is not installed.
    :raises TypeError: or :exc:`ValueError`: an argument is invalid, such as
        a URL that is not a Redis URL. The message names it.
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str = "anysignal:",
        signals: Iterable[NamedSignal] = (),
        codec: Codec | None = None,
        secret: bytes | str | None = None,
        max_message_bytes: int = 1 << 20,
        max_pending: int = 10_000,
        timeout: float = 5.0,
        backoff: tuple[float, float] = (0.1, 5.0),
        poll_interval: float = 0.25,
    ) -> None:
        if isinstance(secret, str):
            secret = secret.encode()
        _check_args(prefix, secret, max_message_bytes, max_pending, backoff)
        self._prefix = prefix
        self._wire = Wire(codec or JSONCodec(), secret, max_message_bytes)
        self._connector = Connector(url, timeout)
        self._max_pending = max_pending
        self._backoff = backoff
        self._lock = threading.Lock()
        self._state = _ProcessState()
        self._signals: dict[str, NamedSignal] = {}
        self._receivers: dict[str, Callable[..., None]] = {}
        self._unknown_names: set[str] = set()
        self._listener = Listener(
            self._connector,
            self._wire,
            pattern=_glob_escape(prefix) + "*",
            accept=self._accept,
            backoff=backoff,
            poll=poll_interval,
        )
        self._stop: threading.Event | None = None
        self._thread: threading.Thread | None = None
        self.add(*signals)

    def __repr__(self) -> str:
        return f"<Relay {self._connector.url} prefix={self._prefix!r}>"

    @property
    def origin(self) -> Origin:
        """The :class:`Origin` of this process: the sender other processes see."""
        return self._process().origin

    @property
    def signals(self) -> tuple[NamedSignal, ...]:
        """The signals relayed, in the order they were added."""
        return tuple(self._signals.values())

    def add(self, *signals: NamedSignal) -> None:
        """Relay ``signals``: publish their local sends, re-send remote ones.

        The relay connects one receiver to each signal, for every sender, with
        a priority above any other: it publishes the event before local
        receivers run, and a ``send`` or ``send_async`` whose keyword arguments
        cannot be encoded raises :class:`PayloadError` before any of them runs
        (a robust send logs it as the relay receiver's failure). Its pair appears
        in the results of a send, with the result None. A muted signal
        publishes nothing. Adding a signal twice does nothing.

        :param signals: Named signals, such as ``Namespace().signal(...)`` makes.
            The name is the signal's identity on the wire: processes must relay
            signals of the same names.
        :raises TypeError: One of ``signals`` is not a :class:`~anysignal.NamedSignal`.
        :raises ValueError: Another signal of the same name is relayed already.
        """
        for signal in signals:
            _check_named(signal)
            with self._lock:
                current = self._signals.setdefault(signal.name, signal)
                if current is not signal:
                    msg = (
                        f"Relay.add(*signals): cannot relay {signal!r}: another "
                        f"signal named {signal.name!r} is relayed already, and "
                        "the two could not be told apart between processes."
                    )
                    raise ValueError(msg)
                if signal.name in self._receivers:
                    continue
                receiver = self._receivers[signal.name] = self._publishing(signal)
            signal.connect(receiver, weak=False, priority=_PUBLISH_FIRST)

    def remove(self, *signals: NamedSignal) -> None:
        """Stop relaying ``signals``; signals not relayed are ignored.

        :param signals: Signals given to :meth:`add` before.
        """
        for signal in signals:
            with self._lock:
                if self._signals.get(signal.name) is not signal:
                    continue
                del self._signals[signal.name]
                receiver = self._receivers.pop(signal.name)
            signal.disconnect(receiver)

    # -- listening ----------------------------------------------------------

    def listening(self) -> t.AsyncContextManager[None]:
        """Listen for remote events while the ``async with`` block runs.

        For an asyncio or trio program, or an ASGI lifespan. The blocking
        Redis subscription runs in a worker thread; each batch of incoming
        events is re-sent on the event loop, in arrival order, with
        :meth:`~anysignal.Signal.send_async_robust`: a receiver's exception is
        logged and does not stop the others, nor the relay. Returns at once;
        :meth:`wait_listening` tells when Redis has confirmed the subscription.

        :raises RuntimeError: The relay is listening already.
        """
        return self._listening(_send_async_robust)

    def start_in_thread(self, *, async_wrapper: AsyncWrapper | None = None) -> None:
        """Listen for remote events in a daemon thread, until :meth:`stop`.

        For a program without an event loop. Incoming events are re-sent in
        that thread with :meth:`~anysignal.Signal.send_robust`.

        :param async_wrapper: Runs coroutine receivers, as ``_async_wrapper``
            of :meth:`~anysignal.Signal.send_robust`; without one, a signal
            with a coroutine receiver cannot be delivered, which is logged.
        :raises RuntimeError: The relay is listening already.
        """

        def deliver(
            signal: NamedSignal, origin: Origin, kwargs: dict[str, t.Any]
        ) -> None:
            signal.send_robust(origin, _async_wrapper=async_wrapper, **kwargs)

        self._start_thread(deliver)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread that :meth:`start_in_thread` or :meth:`init_flask` started.

        Does nothing if there is none.

        :param timeout: Seconds to wait at most for the thread to end.
        """
        thread, stop = self._thread, self._stop
        if thread is None or stop is None:
            return
        stop.set()
        thread.join(timeout)
        if thread.is_alive():
            # Forgetting it would let a new start run a second listener beside
            # it, and deliver every event twice.
            _logger.warning("relay listener thread still running after %s s", timeout)
            return
        self._thread = self._stop = None

    def wait_listening(self, timeout: float) -> bool:
        """Wait until Redis has confirmed the subscription; thread-safe.

        In async code, ``await anyio.to_thread.run_sync(relay.wait_listening, 5)``.

        :param timeout: Seconds to wait at most.
        :return: Whether the relay is listening.
        """
        return self._listener.subscribed.wait(timeout)

    # -- frameworks ---------------------------------------------------------

    def init_flask(self, app: Flask) -> None:
        """Listen for remote events in a daemon thread, on behalf of a Flask app.

        Each event is re-sent in an app context of ``app``, with
        :meth:`~anysignal.Signal.send_robust`, coroutine receivers running
        through ``app.ensure_sync`` as with :func:`anysignal.flask.send`. The
        relay is closed at interpreter exit.
        Call it in each worker process: with ``gunicorn --preload``, in a
        ``post_fork`` hook, since threads do not survive a fork.

        :param app: The app whose context receivers run in.
        :raises RuntimeError: The relay is listening already.
        """
        from .flask import _run_to_completion  # noqa: PLC0415 - Flask is optional

        async_wrapper = _run_to_completion(app)

        def deliver(
            signal: NamedSignal, origin: Origin, kwargs: dict[str, t.Any]
        ) -> None:
            with app.app_context():
                signal.send_robust(origin, _async_wrapper=async_wrapper, **kwargs)

        self._start_thread(deliver)
        app.extensions["anysignal.relay"] = self
        atexit.register(self.close)

    def init_quart(self, app: Quart) -> None:
        """Listen for remote events while ``app`` serves (Quart's ``while_serving``).

        Each event is re-sent in an app context of ``app``, with
        :meth:`~anysignal.Signal.send_async_robust`, sync receivers running
        through ``app.ensure_async`` (or inline, when marked with
        :func:`anysignal.framework.inline`) as with :func:`anysignal.quart.send`.
        When the app stops serving, the relay stops listening and publishes
        what is still queued.

        :param app: The app whose lifespan the listener follows.
        """
        from .quart import _sync_wrapper  # noqa: PLC0415 - Quart is optional

        sync_wrapper = _sync_wrapper(app.ensure_async)

        async def deliver(
            signal: NamedSignal, origin: Origin, kwargs: dict[str, t.Any]
        ) -> None:
            async with app.app_context():
                await signal.send_async_robust(
                    origin, _sync_wrapper=sync_wrapper, **kwargs
                )

        @app.while_serving
        async def relay_while_serving() -> t.AsyncGenerator[None, None]:
            async with self._listening(deliver):
                yield
            await anyio.to_thread.run_sync(self.flush)

        app.extensions["anysignal.relay"] = self

    # -- publishing ---------------------------------------------------------

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until the events sent so far in this process are published.

        Sends return before their event reaches Redis: a thread publishes it.

        :param timeout: Seconds to wait at most.
        :return: Whether they were published (or dropped, Redis being down)
            within ``timeout``.
        """
        publisher = self._process().publisher
        return publisher is None or publisher.flush(timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Stop relaying: remove every signal, stop listening, publish what is queued.

        :param timeout: Seconds to wait at most for each thread to finish.
        """
        self.remove(*self.signals)
        self.stop(timeout)
        state = self._process()
        if state.publisher is not None:
            state.publisher.close(timeout)
            state.publisher = None
        atexit.unregister(self.close)

    def __enter__(self) -> t.Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- internals ----------------------------------------------------------

    def _process(self) -> _ProcessState:
        """Return this process's state, made afresh in a forked child."""
        state = self._state
        if state.pid != os.getpid():
            with self._lock:
                if self._state.pid != os.getpid():
                    self._state = _ProcessState()
                state = self._state
        return state

    def _publishing(self, signal: NamedSignal) -> Callable[..., None]:
        """Make the receiver that publishes ``signal``'s local sends."""
        channel = self._prefix + signal.name
        tail = signal_part(signal.name)
        wire = self._wire

        # Inline: it only queues bytes, so Quart need not run it in a thread.
        # (Only a full queue while Redis is up makes it wait, up to ``timeout``:
        # back-pressure, under the lock that keeps the queue in seq order.)
        @inline
        def publish(sender: object, **kwargs: t.Any) -> None:
            if isinstance(sender, Origin):
                return  # a remote event, re-sent here: publishing it would echo
            kwargs_json = wire.encode_kwargs(signal, kwargs)
            state = self._process()
            # Under the lock, so that the queue's order is the order of seq.
            with self._lock:
                seq = state.seq + 1
                body = wire.envelope(kwargs_json, state.origin_part, seq, tail)
                state.seq = seq
                if state.publisher is None:
                    state.publisher = Publisher(
                        self._connector, wire, self._max_pending, self._backoff
                    )
                state.publisher.put(channel, body)

        return publish

    def _accept(self, channel: str, event: Envelope) -> bool:
        """Tell whether to deliver ``event``, which came on ``channel``."""
        if event.origin.id == self._process().origin.id:
            return False  # our own event: its receivers here ran at the send
        if event.signal in self._signals and channel == self._prefix + event.signal:
            return True
        if event.signal not in self._unknown_names:
            if len(self._unknown_names) < _UNKNOWN_NAMES_LOGGED:
                self._unknown_names.add(event.signal)
            _logger.warning(
                "relay dropped an event of signal %r on channel %r: no such "
                "signal is relayed here",
                event.signal,
                channel,
            )
        return False

    def _claim(self) -> threading.Event:
        """Return the stop event of a new listener, if none is running."""
        with self._lock:
            if self._stop is not None:
                msg = (
                    f"{self!r} is listening already: a relay listens once per "
                    "process. Call stop() first, or leave the listening() block."
                )
                raise RuntimeError(msg)
            self._stop = threading.Event()
            return self._stop

    def _start_thread(self, deliver: SyncDeliver) -> None:
        stop = self._claim()

        def deliver_batch(batch: list[Envelope]) -> None:
            for signal, event in self._resolved(batch):
                try:
                    deliver(signal, event.origin, event.kwargs)
                except Exception:
                    _log_delivery_failure(signal, event)

        self._thread = threading.Thread(
            target=self._listener.run,
            args=(stop, deliver_batch),
            name="anysignal-relay-listener",
            daemon=True,
        )
        self._thread.start()

    @asynccontextmanager
    async def _listening(self, deliver: AsyncDeliver) -> AsyncIterator[None]:
        stop = self._claim()

        async def deliver_batch(batch: list[Envelope]) -> None:
            for signal, event in self._resolved(batch):
                try:
                    await deliver(signal, event.origin, event.kwargs)
                except Exception:
                    _log_delivery_failure(signal, event)

        def hand_over(batch: list[Envelope]) -> None:
            # Waits for the batch's delivery: a slow event loop slows the
            # listener down instead of letting events pile up in memory.
            anyio.from_thread.run(deliver_batch, batch)

        try:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(
                    anyio.to_thread.run_sync, self._listener.run, stop, hand_over
                )
                try:
                    yield
                finally:
                    stop.set()
        finally:
            self._stop = None

    def _resolved(
        self, batch: list[Envelope]
    ) -> t.Iterator[tuple[NamedSignal, Envelope]]:
        # A signal removed since the event was accepted is skipped.
        for event in batch:
            signal = self._signals.get(event.signal)
            if signal is not None:
                yield signal, event


async def _send_async_robust(
    signal: NamedSignal, origin: Origin, kwargs: dict[str, t.Any]
) -> None:
    await signal.send_async_robust(origin, **kwargs)


def _log_delivery_failure(signal: NamedSignal, event: Envelope) -> None:
    _logger.exception(
        "relay could not deliver %r from %s (pid %d on %s)",
        signal,
        event.origin.id,
        event.origin.pid,
        event.origin.host,
    )


def _check_named(signal: object) -> None:
    if not isinstance(signal, NamedSignal):
        msg = (
            f"Relay.add(*signals): {signal!r} is not a NamedSignal. Only a "
            "named signal can be relayed, its name being its identity "
            "between processes: make it with Namespace().signal(name)."
        )
        raise TypeError(msg)


def _glob_escape(text: str) -> str:
    """Escape Redis glob characters, so that a prefix matches only itself."""
    return "".join(f"\\{char}" if char in "*?[]\\" else char for char in text)


def _check_args(
    prefix: object,
    secret: object,
    max_message_bytes: object,
    max_pending: object,
    backoff: object,
) -> None:
    """Raise the error that names the first invalid argument of :class:`Relay`."""
    if not isinstance(prefix, str):
        msg = f"Relay(prefix=...) must be a str, such as 'myapp:', not {prefix!r}"
        raise TypeError(msg)
    if secret is not None and not (isinstance(secret, bytes) and len(secret) >= 16):
        msg = (
            "Relay(secret=...) must be None, or a str or bytes of at least 16 "
            "bytes shared by every relay of the app, such as secrets.token_hex(32)"
        )
        raise ValueError(msg)
    for name, value in (
        ("max_message_bytes", max_message_bytes),
        ("max_pending", max_pending),
    ):
        if type(value) is not int or value < 1:
            msg = f"Relay({name}=...) must be a positive int, not {value!r}"
            raise ValueError(msg)
    match backoff:
        case (int() | float() as first, int() | float() as longest) if (
            0 < first <= longest
        ):
            pass
        case _:
            msg = (
                "Relay(backoff=...) must be (first, longest): two numbers of seconds "
                f"with 0 < first <= longest, such as (0.1, 5.0); not {backoff!r}"
            )
            raise ValueError(msg)
