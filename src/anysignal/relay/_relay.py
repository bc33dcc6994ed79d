"""The :class:`Relay`, and the wrappers that choose remote or local events.

A :class:`Relay` connects one receiver to each signal it relays. That receiver
publishes every local send; each other process's relay re-sends the event to
its own receivers, with an :class:`Origin` as the sender. Events whose sender
is an :class:`Origin` are never published again, so events cannot loop.
"""

from __future__ import annotations

import atexit
import functools
import itertools
import os
import socket
import threading
import typing as t
import urllib.parse
import uuid
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager

import anyio
import anyio.from_thread
import anyio.to_thread

from .. import NamedSignal
from .._receivers import is_async_callable
from ..framework import inline
from ._guard import Guard
from ._logs import Throttled
from ._logs import logger as _logger
from ._redis import Connector, Listener, Publisher
from ._streams import (
    StreamListener,
    StreamPublisher,
    Streams,
    check_name,
    check_transport,
)
from ._wire import (
    Codec,
    Envelope,
    JSONCodec,
    Origin,
    Wire,
    origin_part,
    shorten,
    signal_part,
)

if t.TYPE_CHECKING:
    from types import TracebackType

    from .._receivers import AsyncWrapper

F = t.TypeVar("F", bound=Callable[..., t.Any])

_PUBLISH_FIRST = 1 << 62
"""The priority of the relay's receivers: above any a program would choose, so
that an event that cannot be encoded raises before any local receiver runs
(in ``send`` and ``send_async``; the robust sends log it as that receiver's
failure instead, and concurrent sends start every receiver at once)."""

SyncDeliver: t.TypeAlias = Callable[[NamedSignal, Origin, dict[str, t.Any]], object]
"""Delivers one remote event in the listening thread: ``(signal, origin, kwargs)``."""
AsyncDeliver: t.TypeAlias = Callable[
    [NamedSignal, Origin, dict[str, t.Any]], Awaitable[object]
]
"""Delivers one remote event on the event loop: ``(signal, origin, kwargs)``."""


class _ProcessState:
    """What a relay keeps per process: a forked child starts afresh."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.origin = Origin(self.pid, socket.gethostname(), uuid.uuid4().hex)
        self.origin_part = origin_part(self.origin)
        # The numbers of this origin's events: one sequence for the process,
        # whatever publishers come and go, or a listener would refuse the
        # events of a new one as replays.
        self.numbers = itertools.count(1)
        self.publisher: Publisher | None = None


class Relay:
    """Relays chosen named signals between processes through Redis pub/sub or Streams.

    With pub/sub, the default, delivery is at-most-once; with
    ``transport=Streams()``, a listener catches up after a disconnect. Every
    loss is counted: an event a send could not publish in :attr:`dropped`
    here, an event published but not delivered in :attr:`missed` of each
    listening relay that lost it. Both are logged, at most once per reason
    every ``log_interval`` seconds.

    A relay made before a fork (``gunicorn --preload``) works in every forked
    child: the child gets its own threads and Redis connections, and listens
    if the parent listened in a thread (see :doc:`/deploying`).

    :param url: The Redis server, as a ``redis://`` or ``rediss://`` URL. Its
        password never appears in logs, reprs or error messages.
    :param prefix: Each signal travels on the channel ``prefix + signal.name``;
        relays with the same prefix on the same server hear each other. Give
        each app its own prefix. By default ``"anysignal:<db>:"``, ``<db>``
        being the URL's database number: pub/sub ignores database numbers, so
        that apps kept apart by database stay apart.
    :param signals: Signals to relay from the start, as with :meth:`add`.
    :param codec: Encodes keyword arguments that JSON has no type for; by
        default none are accepted. See :class:`TaggedCodec`.
    :param secret: A key shared by every relay of the app, at least 16 bytes,
        such as ``secrets.token_hex(32)``. Messages are signed with
        HMAC-SHA256 over their channel and every byte; unsigned, wrongly
        signed, stale or replayed ones are dropped, so that access to Redis
        alone cannot inject events. Required unless ``insecure=True``.
    :param insecure: Relay unsigned messages, which anyone who can publish to
        the Redis server can forge; a warning says so when the relay starts.
        Only for a Redis that nothing untrusted can reach.
    :param max_age: Seconds an event may be from the listener's clock, either
        way: older ones are refused as replays. It must exceed the clock skew
        between hosts plus the longest delay of a healthy delivery.
    :param max_message_bytes: The largest message sent or accepted. A larger
        send raises :class:`PayloadError`; a larger incoming message is dropped.
    :param max_pending: Events waiting to be published before further sends
        drop theirs, so that a Redis outage cannot exhaust memory.
    :param timeout: Seconds before connecting to Redis or a command gives up.
    :param backoff: The first and the longest wait, in seconds, before
        reconnecting to Redis; the wait doubles after each failed attempt.
    :param poll_interval: The longest a listener waits for a message before
        checking whether it should stop: how long stopping may take.
    :param liveness: Seconds of silence after which a listener presumes its
        connection dead (even a half-open one, whose peer vanished without a
        word), logs it, and reconnects. It sends a PING after a third of it.
    :param log_interval: Seconds between two warnings of the same kind (a
        message dropped as malformed, as replayed...); those in between are
        counted, and the count logged, so that a flood cannot flood the logs.
    :param transport: None for pub/sub (at-most-once), or :class:`Streams`
        for one Redis stream per signal, from which a listener catches up
        after a disconnect, and delivers each event once. With Streams,
        ``max_age`` bounds the gap between an event's signed timestamp and
        the time Redis added it (however late it is read), a listener finds
        a dead connection within ``timeout`` rather than ``liveness``, and
        the publisher keeps events while Redis is unreachable and adds them
        when it is back, instead of dropping them.
    :raises ImportError: redis-py is not installed.
    :raises TypeError: or :exc:`ValueError`: an argument is invalid, such as
        a URL that is not a Redis URL, or no secret. The message names it.
    """

    def __init__(
        self,
        url: str = "redis://127.0.0.1:6379/0",
        *,
        prefix: str | None = None,
        signals: Iterable[NamedSignal] = (),
        codec: Codec | None = None,
        secret: bytes | str | None = None,
        insecure: bool = False,
        max_age: float = 30.0,
        max_message_bytes: int = 1 << 20,
        max_pending: int = 10_000,
        timeout: float = 5.0,
        backoff: tuple[float, float] = (0.1, 5.0),
        poll_interval: float = 0.25,
        liveness: float = 10.0,
        log_interval: float = 10.0,
        transport: Streams | None = None,
    ) -> None:
        if isinstance(secret, str):
            secret = secret.encode()
        if prefix is None:
            prefix = _default_prefix(url)
        _check_args(prefix, secret, insecure, max_message_bytes, max_pending)
        check_transport(transport)
        _check_seconds(
            backoff,
            max_age=max_age,
            liveness=liveness,
            poll_interval=poll_interval,
            log_interval=log_interval,
        )
        self._prefix = prefix
        self._wire = Wire(codec or JSONCodec(), secret, max_message_bytes)
        self._connector = Connector(url, timeout)
        self._max_pending = max_pending
        self._backoff = backoff
        self._log_interval = log_interval
        self._lock = threading.Lock()
        self._state = _ProcessState()
        self._signals: dict[str, NamedSignal] = {}
        self._receivers: dict[str, Callable[..., None]] = {}
        self._transport = transport
        self._new_listener = functools.partial(
            self._make_listener,
            max_age=max_age,
            authenticated=secret is not None,
            poll=poll_interval,
            liveness=liveness,
        )
        self._new_listener()
        self._stop: threading.Event | None = None
        self._thread: threading.Thread | None = None
        # What the listening thread delivers with: a forked child starts its own.
        self._thread_deliver: SyncDeliver | None = None
        _FORKABLE.add(self)
        if insecure:
            _logger.warning(
                "%r relays UNSIGNED messages (insecure=True): anyone who can "
                "publish to this Redis server can inject events. Give every "
                "relay of the app the same secret= instead.",
                self,
            )
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

    @property
    def dropped(self) -> int:
        """Events sent in this process that were never published, so far.

        A send drops its event when ``max_pending`` events wait already, or
        while Redis is unreachable. A dropped event reaches no other process,
        and no listener counts it as missed.
        """
        publisher = self._process().publisher
        return 0 if publisher is None else publisher.dropped

    @property
    def missed(self) -> int:
        """Events published by other processes that this relay will never deliver.

        Counted from the gaps in each sender's numbering, when the sender's
        next event arrives: events published while this relay was
        disconnected, cut off by Redis, or that arrived older than ``max_age``.
        With :class:`Streams`, counted from the numbers in the streams'
        entries: events the retention dropped before this relay read them
        (and those older than ``max_age`` when added).
        """
        return self._guard.missed

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
        :raises ValueError: Another signal of the same name is relayed already,
            or the signal is relayed by another relay of this process, which
            would publish and deliver each event twice; or, on Streams, its
            name holds a NUL character.
        """
        for signal in signals:
            _check_named(signal)
            if self._transport is not None:
                check_name(signal.name)
            with _RELAYED_LOCK, self._lock:
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
                other = _RELAYED.setdefault(signal, self)
                if other is not self:
                    del self._signals[signal.name]
                    msg = (
                        f"Relay.add(*signals): {signal!r} is relayed by {other!r} "
                        "already: two relays would publish each event twice and "
                        "deliver each remote event twice. Make one relay per "
                        "process (an app factory called twice makes two), or "
                        "close the other one first."
                    )
                    raise ValueError(msg)
                receiver = self._receivers[signal.name] = self._publishing(signal)
            signal.connect(receiver, weak=False, priority=_PUBLISH_FIRST)

    def remove(self, *signals: NamedSignal) -> None:
        """Stop relaying ``signals``; signals not relayed are ignored.

        :param signals: Signals given to :meth:`add` before.
        """
        for signal in signals:
            with _RELAYED_LOCK, self._lock:
                if self._signals.get(signal.name) is not signal:
                    continue
                del self._signals[signal.name]
                del _RELAYED[signal]
                receiver = self._receivers.pop(signal.name)
            signal.disconnect(receiver)

    # -- listening ----------------------------------------------------------

    def listening(
        self, deliver: AsyncDeliver | None = None
    ) -> t.AsyncContextManager[None]:
        """Listen for remote events while the ``async with`` block runs.

        For an asyncio or trio program, or an ASGI lifespan. The blocking
        Redis subscription runs in a worker thread; each batch of incoming
        events is re-sent on the event loop, in arrival order. An exception
        from ``deliver`` is logged and does not stop the relay. Returns at once;
        :meth:`wait_listening` tells when Redis has confirmed the subscription.

        :param deliver: Awaited as ``deliver(signal, origin, kwargs)`` for each
            remote event; by default
            ``signal.send_async_robust(origin, **kwargs)``, which logs a
            receiver's exception and runs the others.
            :func:`anysignal.quart.init_relay` passes one that runs receivers
            in an app context.
        :raises RuntimeError: The relay is listening already.
        """
        return self._listening(deliver or _send_async_robust)

    def start_in_thread(
        self,
        *,
        async_wrapper: AsyncWrapper | None = None,
        deliver: SyncDeliver | None = None,
    ) -> None:
        """Listen for remote events in a daemon thread, until :meth:`stop`.

        For a program without an event loop. Incoming events are re-sent in
        that thread with :meth:`~anysignal.Signal.send_robust`.

        :param async_wrapper: Runs coroutine receivers, as ``_async_wrapper``
            of :meth:`~anysignal.Signal.send_robust`; without one, a signal
            with a coroutine receiver cannot be delivered, which is logged.
        :param deliver: Called as ``deliver(signal, origin, kwargs)`` for each
            remote event instead of the robust send (``async_wrapper`` is then
            unused). :func:`anysignal.flask.init_relay` passes one that runs
            receivers in an app context.
        :raises RuntimeError: The relay is listening already.
        """

        def send_robust(
            signal: NamedSignal, origin: Origin, kwargs: dict[str, t.Any]
        ) -> None:
            signal.send_robust(origin, _async_wrapper=async_wrapper, **kwargs)

        self._start_thread(deliver or send_robust)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread that :meth:`start_in_thread` started.

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
        self._thread_deliver = None
        _logger.info("relay listener stopped in pid %d", os.getpid())

    def wait_listening(self, timeout: float) -> bool:
        """Wait until Redis has confirmed the subscription; thread-safe.

        In async code, ``await anyio.to_thread.run_sync(relay.wait_listening, 5)``.

        :param timeout: Seconds to wait at most.
        :return: Whether the relay is listening.
        """
        return self._listener.subscribed.wait(timeout)

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

    def stop_publishing(self, timeout: float = 5.0) -> None:
        """Publish what is queued, then stop the publishing thread, if any.

        For a graceful shutdown that keeps the signals relayed: no thread of
        the relay outlives it. A later send starts a new publishing thread,
        numbering its events on from the last. Logs, at INFO, that it stopped
        and how many events were dropped in all.
        :func:`anysignal.quart.init_relay` calls it when the app stops serving;
        :meth:`close` calls it too.

        :param timeout: Seconds to wait at most for the queue to be published.
        """
        state = self._process()
        publisher = state.publisher
        if publisher is not None:
            publisher.close(timeout)
            state.publisher = None
            _logger.info(
                "relay publisher stopped in pid %d; %d event(s) dropped in all",
                state.pid,
                publisher.dropped,
            )

    def close(self, timeout: float = 5.0) -> None:
        """Stop relaying: remove every signal, stop listening, publish what is queued.

        :param timeout: Seconds to wait at most for each thread to finish.
        """
        # Deaf first: a listener still running after the signals are gone
        # would log each event that arrives meanwhile as one of a signal not
        # relayed here.
        self.stop(timeout)
        self.remove(*self.signals)
        self.stop_publishing(timeout)
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
        """Return this process's state (a forked child's is made at the fork)."""
        return self._state

    def _make_listener(
        self, *, max_age: float, authenticated: bool, poll: float, liveness: float
    ) -> None:
        """Make the listener, with its own replay memory and log: one per process."""
        log = Throttled(self._log_interval)
        self._log = log
        transport = self._transport
        self._guard = Guard(
            max_age,
            authenticated=authenticated,
            log=log,
            gaps=transport is None,  # a Streams listener counts what it misses
        )
        shared: dict[str, t.Any] = {
            "own_id": lambda: self._process().origin.id,
            "accept": self._accept,
            "guard": self._guard,
            "log": log,
            "backoff": self._backoff,
            "poll": poll,
        }
        prefix = self._prefix
        self._listener = (
            Listener(
                self._connector,
                self._wire,
                pattern=_glob_escape(prefix) + "*",
                liveness=liveness,
                **shared,
            )
            if transport is None
            else StreamListener(
                self._connector,
                self._wire,
                # tuple() copies at once: add() may change the dict meanwhile.
                keys=lambda: [prefix + name for name in tuple(self._signals)],
                history=transport.history,
                **shared,
            )
        )

    def _after_fork_in_child(self) -> None:
        """Start afresh in a forked child: share no thread, socket or lock.

        The parent's threads did not survive the fork, and its Redis
        connections must stay its own (a child that used or closed them would
        corrupt or cut the parent's). So the child gets new locks, a new
        origin and publisher (made on its first send), a new listener with its
        own replay memory and loss counts, and, if the parent was listening in
        a thread (``start_in_thread``, ``anysignal.flask.init_relay``), a new
        listening thread: ``gunicorn --preload`` needs no ``post_fork`` hook.
        """
        self._lock = threading.Lock()
        self._state = _ProcessState()
        self._new_listener()
        listened_in_thread = self._thread is not None
        listened_async = self._stop is not None and not listened_in_thread
        self._stop = self._thread = None
        if listened_in_thread and self._thread_deliver is not None:
            self._start_thread(self._thread_deliver)
        elif listened_async:
            # The parent's event loop was forked mid-flight: nothing sane can
            # resume it, so say what to do instead of listening half-way.
            _logger.warning(
                "%r was forked inside 'async with relay.listening()': the child "
                "process (pid %d) does not listen. Enter relay.listening() in "
                "the child, after the fork (in an ASGI lifespan or Quart's "
                "while_serving, which run in each worker).",
                self,
                os.getpid(),
            )

    def _before_fork(self) -> None:
        """Let a listener that has just started finish its first attempt.

        A fork copies a thread's half-imported module as it is, and the child
        keeps it half-imported for good (the thread that was importing it is
        gone): a listener that had just started in the parent, importing what
        redis-py imports lazily on its first connection, would leave every
        child unable to connect ("partially initialized module"). So the fork
        waits for that first attempt, at most the connection timeout.
        """
        thread = self._thread
        if thread is not None and thread.is_alive():
            self._listener.tried.wait(self._connector.timeout)

    def _publishing(self, signal: NamedSignal) -> Callable[..., None]:
        """Make the receiver that publishes ``signal``'s local sends."""
        channel = (self._prefix + signal.name).encode()
        tail = signal_part(signal.name)
        wire = self._wire

        # Inline: it only checks and queues the event, never waiting for Redis,
        # so Quart need not run it in a thread, and no event loop stalls.
        @inline
        def publish(sender: object, **kwargs: t.Any) -> None:
            if isinstance(sender, Origin):
                return  # a remote event, re-sent here: publishing it would echo
            state = self._process()
            payload = wire.checked(signal, kwargs, state.origin_part, tail)
            publisher = state.publisher or self._start_publisher(state)
            publisher.put(channel, payload, tail)

        return publish

    def _start_publisher(self, state: _ProcessState) -> Publisher:
        with self._lock:
            if state.publisher is None:
                args = (
                    self._connector,
                    self._wire,
                    (state.origin_part, state.numbers),
                    self._max_pending,
                    self._backoff,
                    self._log_interval,
                )
                state.publisher = (
                    Publisher(*args)
                    if self._transport is None
                    else StreamPublisher(*args, self._transport)
                )
            return state.publisher

    def _accept(self, channel: str, event: Envelope) -> bool:
        """Tell whether to deliver ``event``, which came on ``channel``."""
        if event.signal in self._signals and channel == self._prefix + event.signal:
            return True
        self._log.emit(
            "events of signals not relayed here",
            "relay dropped an event of signal %r on channel %r: no such "
            "signal is relayed here",
            shorten(event.signal),
            shorten(channel),
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

        self._thread_deliver = deliver
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
        _logger.info("relay listener stopped in pid %d", os.getpid())

    def _resolved(
        self, batch: list[Envelope]
    ) -> t.Iterator[tuple[NamedSignal, Envelope]]:
        # A signal removed since the event was accepted is skipped.
        for event in batch:
            signal = self._signals.get(event.signal)
            if signal is not None:
                yield signal, event


_RELAYED: weakref.WeakKeyDictionary[NamedSignal, Relay] = weakref.WeakKeyDictionary()
"""The relay of each relayed signal in this process: at most one, or every event
would be published, and delivered, twice."""
_RELAYED_LOCK = threading.Lock()

_FORKABLE: weakref.WeakSet[Relay] = weakref.WeakSet()
"""Every relay alive in this process, for the fork handler below."""


def _after_fork_in_child() -> None:
    """Give each relay a fresh start in a forked child (see Relay._after_fork_in_child).

    Registered once, for every relay: ``os.register_at_fork`` cannot unregister,
    and a WeakSet lets relays die as usual.
    """
    global _RELAYED_LOCK  # noqa: PLW0603 - a fork may have copied it held
    _RELAYED_LOCK = threading.Lock()
    for relay in list(_FORKABLE):
        relay._after_fork_in_child()


def _before_fork() -> None:
    """Let each relay's new listener finish its lazy imports (Relay._before_fork)."""
    for relay in list(_FORKABLE):
        relay._before_fork()


os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child)


def remote_only(receiver: F) -> F:
    """Make ``receiver`` run only for events from other processes.

    A remote event's sender is an :class:`Origin`, so a receiver connected
    with ``sender=`` for a local object never gets remote events; connect
    this wrapper for any sender instead::

        @saved.connect
        @remote_only
        def drop_cache(origin, **kwargs): ...

    The wrapper keeps the name, the :func:`~anysignal.framework.inline` mark
    and the sync or async nature of ``receiver``. Signals hold receivers
    weakly by default: keep a reference to the wrapper (the decorator form
    does, through the function's name), or connect it with ``weak=False``.

    :param receiver: A sync or coroutine receiver.
    :return: The wrapper, to connect.
    """
    return _filtered(receiver, remote=True)


def local_only(receiver: F) -> F:
    """Make ``receiver`` run only for events sent in this process.

    The counterpart of :func:`remote_only`, which describes the wrapper.

    :param receiver: A sync or coroutine receiver.
    :return: The wrapper, to connect.
    """
    return _filtered(receiver, remote=False)


def _filtered(receiver: F, *, remote: bool) -> F:
    """Wrap ``receiver`` to run only when its sender's being an Origin is ``remote``."""
    wrapper: Callable[..., t.Any]
    if is_async_callable(receiver):

        @functools.wraps(receiver)
        async def wrapper(sender: object, /, **kwargs: t.Any) -> t.Any:
            if isinstance(sender, Origin) is remote:
                return await receiver(sender, **kwargs)
            return None

    else:

        @functools.wraps(receiver)
        def wrapper(sender: object, /, **kwargs: t.Any) -> t.Any:
            if isinstance(sender, Origin) is remote:
                return receiver(sender, **kwargs)
            return None

    return t.cast("F", wrapper)


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
        shorten(event.origin.host),
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


def _default_prefix(url: str) -> str:
    """Return ``"anysignal:<db>:"`` for the database number that ``url`` names.

    Pub/sub channels are server-wide, whatever the database: without the
    number, two apps kept apart by database would hear each other.
    """
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return "anysignal:0:"  # Connector names the bad URL
    query_db = urllib.parse.parse_qs(parts.query).get("db", [])
    # A unix:// URL's path is the socket's, not a database number.
    path_db = "" if parts.scheme == "unix" else parts.path.strip("/")
    db = query_db[0] if query_db else path_db or "0"
    return f"anysignal:{db}:"


def _check_args(
    prefix: object,
    secret: object,
    insecure: object,
    max_message_bytes: object,
    max_pending: object,
) -> None:
    """Raise the error that names the first invalid argument of :class:`Relay`."""
    if not isinstance(prefix, str):
        msg = f"Relay(prefix=...) must be a str, such as 'myapp:', not {prefix!r}"
        raise TypeError(msg)
    if secret is None and insecure is not True:
        msg = (
            "Relay(secret=...) is required: pass a str or bytes of at least 16 "
            "bytes shared by every relay of the app, such as "
            "secrets.token_hex(32) from the app's configuration; or pass "
            "insecure=True to relay unsigned messages that anyone with access "
            "to the Redis server can forge."
        )
        raise ValueError(msg)
    if secret is not None and insecure:
        msg = "Relay(insecure=True) signs nothing: pass it or a secret=, not both"
        raise ValueError(msg)
    if secret is not None and not (isinstance(secret, bytes) and len(secret) >= 16):
        # Never the secret itself: error messages end up in logs.
        msg = (
            "Relay(secret=...) must be a str or bytes of at least 16 bytes "
            "shared by every relay of the app, such as secrets.token_hex(32)"
        )
        raise ValueError(msg)
    for name, value in (
        ("max_message_bytes", max_message_bytes),
        ("max_pending", max_pending),
    ):
        if type(value) is not int or value < 1:
            msg = f"Relay({name}=...) must be a positive int, not {value!r}"
            raise ValueError(msg)


def _check_seconds(backoff: object, **durations: object) -> None:
    """Raise the error that names the first invalid duration of :class:`Relay`."""
    for name, value in durations.items():
        if not isinstance(value, int | float) or not value > 0:
            msg = (
                f"Relay({name}=...) must be a positive number of seconds, not {value!r}"
            )
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
