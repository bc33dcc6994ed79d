"""The :class:`Signal`: connecting receivers, and sending to them in order."""

from __future__ import annotations

import logging
import threading
import typing as t
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Hashable, Iterator
from contextlib import contextmanager

from ._concurrent import run_concurrently
from ._dispatch import Dispatch
from ._errors import AsyncReceiverError, ReceiverErrors
from ._identity import identity_key
from ._loops import SEND, SEND_ASYNC, SEND_ASYNC_ROBUST, SEND_ROBUST, hide_loop_frame
from ._receivers import (
    ANY_ONLY,
    Receiver,
    ReceiverRecord,
    Senders,
    make_record,
    with_sender,
    without_senders,
)
from ._senders import (
    ANY,
    ANY_KEY,
    NOT_KEYED_BY_ID,
    SenderRef,
    hold_sender,
    sender_key,
)

F = t.TypeVar("F", bound=Callable[..., t.Any])

_logger = logging.getLogger("anysignal")

AsyncWrapper: t.TypeAlias = Callable[
    [Callable[..., Coroutine[t.Any, t.Any, t.Any]]], Receiver
]
"""Turns a coroutine receiver into a sync callable, e.g. Flask's ``ensure_sync``."""

SyncWrapper: t.TypeAlias = Callable[[Receiver], Callable[..., Awaitable[t.Any]]]
"""Turns a sync receiver into a coroutine function, e.g. Quart's ``ensure_async``."""

_MAX_CACHED_SENDERS = 1024
"""Dispatch snapshots kept per signal before the cache starts over.

Once some receivers are connected for particular senders, every sender takes
a cache entry, also those with no receiver of their own; short-lived senders
would grow it forever.
"""


_ASYNC_WRAPPER = SEND.option
"""``send``'s keyword option, which its loops read out of ``kwargs``."""

_SYNC_WRAPPER = SEND_ASYNC.option
"""``send_async``'s keyword option, likewise."""


def _make_reaper(signal: Signal) -> Callable[[t.Any], None]:
    """Return the weakref callback that cleans up after a dead receiver or sender.

    The callback refers to the signal weakly, so that connecting a receiver does
    not tie the signal's lifetime to the receiver's.
    """
    signal_ref = weakref.ref(signal)

    def reap(ref: t.Any) -> None:
        signal = signal_ref()
        if signal is not None:
            signal._reap(ref)

    return reap


class Signal:
    """A notification emitter: receivers connect to it, senders send through it.

    Receivers are called by priority, then in the order they were connected,
    the same order for every send method and :meth:`receivers_for`. See
    :doc:`/semantics` for every rule.

    :param doc: The docstring of the signal.
    """

    # Slots make the hot path's attribute reads the fastest kind; the instance
    # dict remains for ``__doc__``.
    __slots__ = (
        "__dict__",
        "__weakref__",
        "_any_dispatch",
        "_by_sender",
        "_cache",
        "_connections_made",
        "_dead",
        "_held",
        "_lock",
        "_mute_depth",
        "_priorities",
        "_reaper",
        "_receiver_connected",
        "_receiver_disconnected",
        "_senders",
        "receivers",
    )

    ANY = ANY
    """An alias for :data:`anysignal.ANY`."""

    def __init__(self, doc: str | None = None) -> None:
        if doc:
            self.__doc__ = doc
        self.receivers: dict[int, ReceiverRecord] = {}
        """Every connected receiver's record, by receiver key. Its truth value
        tells whether anything is connected (as in blinker); the rest of its
        structure is private."""
        # sender key -> {receiver key: connection number}; a dict keeps insertion
        # order, and connection numbers order receivers across ANY and a sender.
        # The ANY entry stays, even empty: most connections come and go there.
        self._by_sender: dict[Hashable, dict[int, int]] = {ANY_KEY: {}}
        # identity sender key -> SenderRef, or the sender itself when it cannot be
        # weakly referenced (see hold_sender).
        self._senders: dict[Hashable, object] = {}
        # (sender key, receiver key) -> priority, for non-zero priorities only:
        # most signals never use one and pay nothing for it.
        self._priorities: dict[tuple[Hashable, int], int] = {}
        self._cache: dict[Hashable, Dispatch] = {}
        # While every receiver is connected for ANY (most signals, always), one
        # snapshot serves every sender: a send needs no sender key, no lookup.
        self._any_dispatch: Dispatch | None = None
        self._connections_made = 0
        self._mute_depth = 0
        # Guards the tables above and the building of snapshots; never held while
        # a receiver runs, nor while a meta-signal is sent. Never taken twice by
        # one thread either: an RLock only so that ``_held()`` can tell whether
        # the calling thread holds it (see _reentered).
        self._lock = threading.RLock()
        self._held: Callable[[], bool] = self._lock._is_owned  # type: ignore[attr-defined]
        self._dead: list[SenderRef | ReceiverRecord] = []
        self._reaper = _make_reaper(self)
        self._receiver_connected: Signal | None = None
        self._receiver_disconnected: Signal | None = None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} at {id(self):#x}>"

    @property
    def receiver_connected(self) -> Signal:
        """Sent at the end of each :meth:`connect` call.

        The sender is this signal; the keyword arguments are ``connect``'s:
        ``receiver``, ``sender`` and ``weak``. Made on first use.
        """
        return self._meta_signal(
            "_receiver_connected", "Sent after a receiver connects."
        )

    @property
    def receiver_disconnected(self) -> Signal:
        """Sent at the end of each :meth:`disconnect` call.

        The sender is this signal; the keyword arguments are ``disconnect``'s:
        ``receiver`` and ``sender``. A receiver or sender that is garbage
        collected leaves without this signal: it no longer exists to be sent.
        Made on first use.
        """
        return self._meta_signal(
            "_receiver_disconnected", "Sent after a receiver disconnects."
        )

    def _meta_signal(self, attribute: str, doc: str) -> Signal:
        meta: Signal | None = getattr(self, attribute)
        if meta is None:
            if self._held():
                raise _reentered(self, f"make {attribute.lstrip('_')}")
            with self._lock:  # two threads' first uses must get the same one
                meta = getattr(self, attribute)
                if meta is None:
                    meta = Signal(doc=doc)
                    setattr(self, attribute, meta)
        return meta

    # -- connecting ---------------------------------------------------------

    def connect(
        self, receiver: F, sender: t.Any = ANY, weak: bool = True, *, priority: int = 0
    ) -> F:
        """Connect ``receiver`` to be called when ``sender`` sends this signal.

        :param receiver: A callable, called as ``receiver(sender, **kwargs)``.
            Coroutine functions are awaited by :meth:`send_async`. Returned
            unchanged, so ``connect`` also works as a decorator.
        :param sender: Call ``receiver`` only for this sender; by default
            :data:`ANY`, every sender. Connect several times for several senders.
            ``str`` and ``int`` senders match by value, bound methods by
            instance and function, anything else by identity (see
            :ref:`senders`).
        :param weak: Hold ``receiver`` through a weak reference, so that it is
            disconnected when it is garbage collected. A bound method is held
            through its instance. Pass ``False`` for a receiver nothing else
            keeps alive, such as a function defined inside another function.
        :param priority: Receivers with a higher priority run first; among
            equal priorities, connection order holds. Connecting again with
            another priority changes it, keeping the connection's order among
            equals.
        :raises TypeError: ``receiver`` is not callable, ``weak`` is true and
            it cannot be weakly referenced, or ``priority`` is not an int.
            Nothing is connected then.

        Connecting an already connected receiver again keeps its place in the
        order; it can make a weakly held receiver strongly held, never the
        reverse.

        .. versionchanged:: 0.1
            Added ``priority``.
        """
        if self._held() or type(priority) is not int or not callable(receiver):
            self._check_connect_args(receiver, priority)
        key = identity_key(receiver)
        skey = ANY_KEY if sender is ANY else sender_key(sender)
        # acquire/release rather than ``with``, which costs twice as much:
        # connect+disconnect is measured against the peers.
        self._lock.acquire()
        try:
            if self._dead:
                self._collect_dead()
            record = replaced = self.receivers.get(key)
            if record is None or (record.weak and not weak):
                # Made before anything changes: it is what can raise.
                new_record = make_record(receiver, key, weak, self._reaper)
                if record is not None:
                    new_record.senders = record.senders
                record = self.receivers[key] = new_record
            else:
                replaced = None
            connections = self._by_sender.get(skey)
            if connections is None:
                connections = self._add_sender(skey, sender)
            added = key not in connections
            if added:
                connections[key] = self._connections_made
                self._connections_made += 1
                # Most receivers connect for ANY only: they share one tuple.
                record.senders = (
                    ANY_ONLY
                    if skey == ANY_KEY and not record.senders
                    else with_sender(record.senders, skey)
                )
            if added or replaced is not None:
                self._changed()
            previous_priority = (
                self._set_priority(skey, key, priority)
                if priority or self._priorities
                else 0
            )
        finally:
            self._lock.release()
        if self._dead:
            self._collect_dead_if_free()
        meta = self._receiver_connected
        if meta is not None and meta.receivers:
            self._announce_connection(
                meta,
                receiver,
                sender,
                weak,
                skey,
                added=added,
                replaced=replaced,
                previous_priority=previous_priority,
            )
        return receiver

    def connect_via(
        self, sender: t.Any, weak: bool = False, *, priority: int = 0
    ) -> Callable[[F], F]:
        """Return a decorator that connects its function for ``sender``.

        :param sender: As for :meth:`connect`.
        :param weak: As for :meth:`connect`, but ``False`` by default: a
            decorated function is usually defined once and meant to stay.
        :param priority: As for :meth:`connect`.
        """

        def decorator(receiver: F) -> F:
            return self.connect(receiver, sender, weak, priority=priority)

        return decorator

    @contextmanager
    def connected_to(self, receiver: Receiver, sender: t.Any = ANY) -> Iterator[None]:
        """Connect ``receiver`` for the duration of a ``with`` block.

        Only what the block added is undone when it ends, also when it raises:
        if ``receiver`` was already connected for ``sender``, it stays connected.
        Blocks for the same receiver and sender must not overlap in two threads
        or tasks: the first to end disconnects what the other relies on. Give
        each its own receiver instead.

        :param receiver: As for :meth:`connect`.
        :param sender: As for :meth:`connect`.
        """
        skey = ANY_KEY if sender is ANY else sender_key(sender)
        record = self.receivers.get(identity_key(receiver))
        already = record is not None and skey in record.senders
        if not already:  # connecting again could only change its priority
            self.connect(receiver, sender, weak=record.weak if record else False)
        try:
            yield None
        finally:
            if not already:
                self._disconnect(receiver, sender, skey)

    def disconnect(self, receiver: Receiver, sender: t.Any = ANY) -> None:
        """Disconnect ``receiver`` from ``sender``.

        :param receiver: A connected receiver. Disconnecting one that is not
            connected does nothing.
        :param sender: Disconnect from this sender only; by default
            :data:`ANY`, which disconnects ``receiver`` from every sender.
        """
        self._disconnect(
            receiver, sender, None if sender is ANY else sender_key(sender)
        )

    @contextmanager
    def muted(self) -> Iterator[None]:
        """Make every send method of this signal call nothing within a block.

        Blocks nest: the signal is muted until the outermost block ends. The
        signal is muted for every thread and task, not only the caller's.
        """
        if self._held():
            raise _reentered(self, "mute")
        with self._lock:
            self._mute_depth += 1
        try:
            yield None
        finally:
            with self._lock:
                self._mute_depth -= 1

    @property
    def is_muted(self) -> bool:
        """Whether a :meth:`muted` block is active."""
        return self._mute_depth > 0

    # -- sending ------------------------------------------------------------

    def send(
        self, sender: t.Any = None, /, *args: t.Never, **kwargs: t.Any
    ) -> list[tuple[Receiver, t.Any]]:
        """Call every receiver of ``sender``, in order, and collect their results.

        Each receiver connected for ``sender`` or for :data:`ANY` is called as
        ``receiver(sender, **kwargs)``, one after another. An exception from a
        receiver propagates at once; the receivers after it are not called.

        :param sender: The object sending; receivers connected for it, and those
            connected for :data:`ANY`, are called.
        :param _async_wrapper: Turns a coroutine receiver into a sync callable
            (Flask passes ``app.ensure_sync``). Without it, a connected coroutine
            receiver raises :class:`AsyncReceiverError` before any receiver runs.
            Receivers never get it.
        :param kwargs: Passed to every receiver.
        :return: ``[(receiver, result), ...]`` in the order receivers ran.
        """
        # ``_async_wrapper`` is read from ``kwargs`` by the loops (see _loops),
        # not bound as a parameter: binding it would cost every send.
        if args:
            raise _positional_error("send", args)
        if not self.receivers or self._mute_depth:
            return []
        dispatch = self._any_dispatch
        if dispatch is None:
            # Most senders are keyed by id(): they skip the call (hot path).
            key = (
                id(sender)
                if type(sender) not in NOT_KEYED_BY_ID
                else sender_key(sender)
            )
            dispatch = self._cache.get(key) or self._dispatch_for(key)
        single = dispatch.single  # a local: calling an attribute is slower
        if single is not None:
            # One sync receiver is the most common case of all. Called here, it
            # costs a fifth less than through a loop; and with no receiver run
            # before it in this send, there is no change to check for. A sync
            # receiver needs no async wrapper: a send that passes one (as
            # Flask's adapter always does) comes this way too, without it.
            # (A test, not pop(): when absent, the usual case, it costs a
            # send to one receiver about 3% less.)
            if _ASYNC_WRAPPER in kwargs:
                del kwargs[_ASYNC_WRAPPER]  # noqa: RUF051
            receiver = single()
            return [] if receiver is None else [(receiver, receiver(sender, **kwargs))]
        names = tuple(kwargs)
        if dispatch.has_async:
            if kwargs.get(_ASYNC_WRAPPER) is None:
                self._refuse_async(dispatch)
            loop = SEND.mixed.get(names) or SEND.loop(names, mixed=True)
        else:
            loop = SEND.uniform.get(names) or SEND.loop(names, mixed=False)
        try:
            return loop(dispatch, sender, kwargs)
        except BaseException as exc:
            hide_loop_frame(exc.__traceback__)
            raise

    async def send_async(
        self, sender: t.Any = None, /, *args: t.Never, **kwargs: t.Any
    ) -> list[tuple[Receiver, t.Any]]:
        """Await every receiver of ``sender``, one after another, in order.

        Coroutine receivers are awaited in turn, never concurrently; sync
        receivers are called inline in their place. Works on every anyio
        backend. An exception, or a cancellation, propagates at once; the
        receivers after it are not called.

        :param sender: As for :meth:`send`.
        :param _sync_wrapper: Turns a sync receiver into a coroutine function
            (Quart passes ``app.ensure_async``, which runs it in a thread).
            Without it, sync receivers run inline, on the event loop.
            Receivers never get it.
        :param kwargs: Passed to every receiver.
        :return: ``[(receiver, result), ...]`` in the order receivers ran.
        """
        if args:
            raise _positional_error("send_async", args)
        if not self.receivers or self._mute_depth:
            return []
        dispatch = self._any_dispatch or self._dispatch(sender)
        single = dispatch.single_async
        if single is not None:
            # One coroutine receiver, awaited here as send() calls one sync
            # receiver: a fifth of the send saved. Nor does it need a sync
            # wrapper (Quart's adapter always passes one).
            if _SYNC_WRAPPER in kwargs:
                del kwargs[_SYNC_WRAPPER]  # noqa: RUF051 - as in send()
            receiver = single()
            if receiver is None:
                return []
            return [(receiver, await receiver(sender, **kwargs))]
        names = tuple(kwargs)
        if dispatch.all_async:
            loop = SEND_ASYNC.uniform.get(names) or SEND_ASYNC.loop(names, mixed=False)
        else:
            loop = SEND_ASYNC.mixed.get(names) or SEND_ASYNC.loop(names, mixed=True)
        try:
            return await loop(dispatch, sender, kwargs)
        except BaseException as exc:
            hide_loop_frame(exc.__traceback__)
            raise

    def send_robust(
        self,
        sender: t.Any = None,
        /,
        *args: t.Never,
        _raise_group: bool = False,
        **kwargs: t.Any,
    ) -> list[tuple[Receiver, t.Any]]:
        """Call every receiver of ``sender``, even when some raise.

        As :meth:`send`, except that an :class:`Exception` raised by a receiver
        does not stop the send: it becomes that receiver's result (as in
        Django's ``send_robust``), and the next receiver is called. A
        :class:`BaseException` that is not an :class:`Exception`, such as
        :exc:`KeyboardInterrupt`, still propagates at once.

        :param sender: As for :meth:`send`.
        :param _async_wrapper: As for :meth:`send`.
        :param _raise_group: Once every receiver has been called, raise a
            :class:`ReceiverErrors` group of the exceptions, if any, instead of
            logging them. For callers that must not swallow errors, such as
            teardown code that still needs every receiver to run.
        :param kwargs: Passed to every receiver.
        :return: ``[(receiver, result_or_exception), ...]`` in the order
            receivers ran. Each exception is also logged on the ``anysignal``
            logger, with the receiver's name, unless ``_raise_group`` is true.
        :raises ReceiverErrors: ``_raise_group`` is true and receivers raised.

        .. versionadded:: 0.1
        """
        if args:
            raise _positional_error("send_robust", args)
        if not self.receivers or self._mute_depth:
            return []
        dispatch = self._dispatch(sender)
        if dispatch.has_async and kwargs.get(_ASYNC_WRAPPER) is None:
            self._refuse_async(dispatch)
        loop = SEND_ROBUST.loop(tuple(kwargs), mixed=dispatch.has_async)
        failures: list[tuple[Receiver, Exception]] = []
        try:
            results = loop(dispatch, sender, kwargs, failures)
        except BaseException:
            _log_failures(self, failures)  # what was caught is not lost
            raise
        return self._robust_outcome(results, failures, raise_group=_raise_group)

    async def send_async_robust(
        self,
        sender: t.Any = None,
        /,
        *args: t.Never,
        _raise_group: bool = False,
        **kwargs: t.Any,
    ) -> list[tuple[Receiver, t.Any]]:
        """Await every receiver of ``sender``, even when some raise.

        As :meth:`send_async`, with the error handling of :meth:`send_robust`.
        Cancellation is never caught: it stops the send at once.

        :param sender: As for :meth:`send`.
        :param _sync_wrapper: As for :meth:`send_async`.
        :param _raise_group: As for :meth:`send_robust`.
        :param kwargs: Passed to every receiver.
        :return: As for :meth:`send_robust`.
        :raises ReceiverErrors: ``_raise_group`` is true and receivers raised.

        .. versionadded:: 0.1
        """
        if args:
            raise _positional_error("send_async_robust", args)
        if not self.receivers or self._mute_depth:
            return []
        dispatch = self._dispatch(sender)
        loop = SEND_ASYNC_ROBUST.loop(tuple(kwargs), mixed=not dispatch.all_async)
        failures: list[tuple[Receiver, Exception]] = []
        try:
            results = await loop(dispatch, sender, kwargs, failures)
        except BaseException:
            _log_failures(self, failures)
            raise
        return self._robust_outcome(results, failures, raise_group=_raise_group)

    async def send_concurrent(
        self,
        sender: t.Any = None,
        /,
        *args: t.Never,
        _limit: int | None = None,
        _sync_in_thread: bool = False,
        **kwargs: t.Any,
    ) -> list[tuple[Receiver, t.Any]]:
        """Run every receiver of ``sender`` at once, in a task group of the caller.

        Each receiver gets a task of an anyio task group opened inside this
        call, so everything happens within the caller's task: no background
        task, no global loop. The results still come back in order (priority,
        then connection order).

        If a receiver raises, the others are cancelled and the exceptions are
        raised together as an :class:`ExceptionGroup`, as anyio task groups do.
        If the caller is cancelled, every receiver is cancelled with it. Each
        task runs in a copy of the caller's context: receivers see the caller's
        context variables, and changes they make stay their own.

        :param sender: As for :meth:`send`.
        :param _limit: At most this many receivers run at once; by default, all.
        :param _sync_in_thread: Run sync receivers in worker threads
            (:func:`anyio.to_thread.run_sync`) instead of inline, on the event
            loop. Use it for sync receivers that block.
        :param kwargs: Passed to every receiver.
        :return: ``[(receiver, result), ...]`` in order.
        :raises ExceptionGroup: Receivers raised.

        .. versionadded:: 0.1
        """
        if args:
            raise _positional_error("send_concurrent", args)
        if _limit is not None and (type(_limit) is not int or _limit < 1):
            msg = f"_limit must be a positive int or None, not {_limit!r}"
            raise ValueError(msg)
        if not self.receivers or self._mute_depth:
            return []
        return await run_concurrently(
            self._dispatch(sender),
            sender,
            kwargs,
            limit=_limit,
            sync_in_thread=_sync_in_thread,
        )

    # -- looking at connections ---------------------------------------------

    def has_receivers_for(self, sender: t.Any) -> bool:
        """Tell whether a send by ``sender`` could call any receiver.

        Cheap, and read without the lock: a weakly held receiver that died a
        moment ago may still count, and so may the receivers of a dead sender
        whose ``id()`` ``sender`` reuses, until their clean-up (which is never
        late for a send). :meth:`receivers_for` gives the exact answer.
        """
        if not self.receivers:
            return False
        if self._by_sender[ANY_KEY]:
            return True
        # ANY's own entry always exists, possibly empty: it is not a sender's.
        return sender is not ANY and sender_key(sender) in self._by_sender

    def receivers_for(self, sender: t.Any) -> Iterator[Receiver]:
        """Iterate over the live receivers a send by ``sender`` would call, in order.

        :param sender: As for :meth:`send`; :data:`ANY` gives the receivers
            connected for :data:`ANY` only.
        """
        if not self.receivers:
            return iter(())
        dispatch = self._dispatch(sender)
        return (receiver for get in dispatch.getters if (receiver := get()) is not None)

    # -- bookkeeping (always under self._lock) ------------------------------

    def _remove(self, record: ReceiverRecord, skeys: Senders) -> None:
        """Remove ``record``'s connections to the senders in ``skeys``."""
        for skey in skeys:
            connections = self._by_sender.get(skey)
            if connections is None or connections.pop(record.key, None) is None:
                continue
            if self._priorities:
                self._priorities.pop((skey, record.key), None)
            if not connections and skey != ANY_KEY:
                del self._by_sender[skey]
                self._senders.pop(skey, None)
        record.senders = (
            () if skeys is record.senders else without_senders(record.senders, skeys)
        )
        if not record.senders:
            del self.receivers[record.key]
        self._changed()

    def _check_connect_args(self, receiver: object, priority: object) -> None:
        """Raise the error that explains why ``connect`` cannot go on."""
        if not callable(receiver):
            msg = (
                f"cannot connect {receiver!r} to {self!r}: a receiver must be "
                "callable as receiver(sender, **kwargs). Pass a function or method."
            )
            raise TypeError(msg)
        if not isinstance(priority, int) or isinstance(priority, bool):
            msg = (
                f"cannot connect {receiver!r} to {self!r} with priority "
                f"{priority!r}: a priority must be an int, such as 10 or -1."
            )
            raise TypeError(msg)
        if self._held():
            raise _reentered(self, f"connect {receiver!r} to")

    def _add_sender(self, skey: Hashable, sender: object) -> dict[int, int]:
        """Start the table of a sender's connections, and hold the sender."""
        holder = hold_sender(sender, skey, self._reaper)
        if holder is not None:
            self._senders[skey] = holder
        connections: dict[int, int] = {}
        self._by_sender[skey] = connections
        return connections

    def _set_priority(self, skey: Hashable, key: int, priority: int) -> int:
        """Set a connection's priority; return the one it had."""
        place = (skey, key)
        if priority:
            previous = self._priorities.get(place, 0)
            self._priorities[place] = priority
        else:
            previous = self._priorities.pop(place, 0)
        if previous != priority:
            self._changed()
        return previous

    def _changed(self) -> None:
        # Snapshots taken before this change are no longer handed out, and
        # sends still walking one check each receiver they have left.
        if self._cache:
            self._drop_cache()
        shared = self._any_dispatch
        if shared is not None:
            shared.recheck(self._by_sender)
            self._any_dispatch = None

    def _drop_cache(self) -> None:
        # A snapshot dropped unchecked could be in use by a send that a later
        # change would then not reach: every one is checked on its way out.
        # One popitem() at a time, because _reap pops entries without the lock
        # (and the garbage collector may run it in the middle of this loop): a
        # loop over the dict itself would fail when it changes size.
        cache = self._cache
        while cache:
            try:
                _, dispatch = cache.popitem()
            except KeyError:  # _reap took the last one meanwhile
                break
            dispatch.recheck(self._by_sender)

    def _disconnect(
        self, receiver: Receiver, sender: t.Any, skey: Hashable | None
    ) -> None:
        """Disconnect from sender key ``skey`` only, or from all when it is None."""
        key = identity_key(receiver)
        if self._held():
            raise _reentered(self, f"disconnect {receiver!r} from")
        self._lock.acquire()  # not ``with``: see connect()
        try:
            if self._dead:
                self._collect_dead()
            record = self.receivers.get(key)
            if record is not None:
                self._remove(record, record.senders if skey is None else (skey,))
        finally:
            self._lock.release()
        if self._dead:
            self._collect_dead_if_free()
        meta = self._receiver_disconnected
        if meta is not None and meta.receivers:
            meta.send(self, receiver=receiver, sender=sender)

    def _announce_connection(
        self,
        meta: Signal,
        receiver: Receiver,
        sender: object,
        weak: bool,
        skey: Hashable,
        *,
        added: bool,
        replaced: ReceiverRecord | None,
        previous_priority: int,
    ) -> None:
        """Send :attr:`receiver_connected`; undo the connection if it raises.

        A connection that a meta-receiver refused leaves everything as it was:
        a new subscription is removed (and with it the sender's holding, if it
        was the sender's first), an existing one gets back its priority, and a
        weakly held receiver that this connect made strong is weak again.
        """
        try:
            meta.send(self, receiver=receiver, sender=sender, weak=weak)
        except BaseException:
            if added:
                self._disconnect(receiver, sender, skey)
            else:
                self._restore_priority(skey, identity_key(receiver), previous_priority)
            if replaced is not None:
                self._put_back(replaced)
            raise

    def _restore_priority(self, skey: Hashable, key: int, priority: int) -> None:
        with self._lock:
            record = self.receivers.get(key)
            if record is not None and skey in record.senders:
                self._set_priority(skey, key, priority)

    def _put_back(self, record: ReceiverRecord) -> None:
        """Make ``record`` current again, in place of the one that replaced it."""
        with self._lock:
            current = self.receivers.get(record.key)
            if current is not None:
                record.senders = current.senders
                self.receivers[record.key] = record
                self._changed()

    def _reap(self, ref: t.Any) -> None:
        """Note that a receiver or sender died; clean up now if the lock is free.

        Runs inside the garbage collector, possibly in a thread that holds the
        lock already: it must never block. What it cannot clean up now, the
        lock's holder cleans up as soon as it has released the lock (see
        _collect_dead_if_free), and any later change cleans up first.
        """
        self._dead.append(ref)
        if isinstance(ref, SenderRef):
            # Must not outlive the sender: a new object may get its id(). A
            # receivers_for() iterator may still walk it: see _drop_cache.
            dispatch = self._cache.pop(ref.key, None)
            if dispatch is not None:
                dispatch.recheck(self._by_sender)
        self._collect_dead_if_free()

    def _collect_dead_if_free(self) -> None:
        # Called after appending to _dead, and after connect, disconnect and a
        # snapshot build release the lock: when the lock is taken, its holder
        # comes here once it has released it. What a rarer holder (muted(),
        # say) leaves behind, the next change of connections collects first.
        # Never in the thread that holds the lock: its own change is under way.
        while self._dead and not self._held() and self._lock.acquire(blocking=False):
            try:
                self._collect_dead()
            finally:
                self._lock.release()

    def _collect_dead(self) -> None:
        while self._dead:
            ref = self._dead.pop()
            if isinstance(ref, SenderRef):
                if self._senders.get(ref.key) is ref:
                    for key in list(self._by_sender[ref.key]):
                        self._remove(self.receivers[key], (ref.key,))
            elif self.receivers.get(ref.key) is ref:
                self._remove(ref, ref.senders)

    def _dispatch_for(self, key: Hashable) -> Dispatch:
        """Build (or find) the snapshot for a sender key, after a cache miss."""
        if self._held():
            raise _reentered(self, "send")
        with self._lock:
            if self._dead:
                self._collect_dead()
            if len(self._by_sender) == 1:  # ANY's entry only: one snapshot for all
                dispatch = self._any_dispatch
                if dispatch is None:
                    dispatch = self._any_dispatch = self._new_dispatch(ANY_KEY)
            else:
                dispatch = self._cache.get(key)
                if dispatch is None:
                    if len(self._cache) >= _MAX_CACHED_SENDERS:
                        self._drop_cache()
                    dispatch = self._cache[key] = self._new_dispatch(key)
        if self._dead:
            self._collect_dead_if_free()
        return dispatch

    def _new_dispatch(self, key: Hashable) -> Dispatch:
        senders = ANY_ONLY if key == ANY_KEY else (ANY_KEY, key)
        return Dispatch(self._records_for(key), senders, self._connections_made)

    def _records_for(self, key: Hashable) -> list[ReceiverRecord]:
        everyone = self._by_sender[ANY_KEY]
        own = self._by_sender.get(key) if key != ANY_KEY else None
        if not own and not self._priorities:
            return [self.receivers[rkey] for rkey in everyone]
        # Higher priority first, then connection order. A receiver connected
        # both for ANY and for this sender runs once, at the better place.
        places: dict[int, tuple[int, int]] = {}
        for skey, connections in ((ANY_KEY, everyone), (key, own or {})):
            for rkey, number in connections.items():
                place = (-self._priorities.get((skey, rkey), 0), number)
                if rkey not in places or place < places[rkey]:
                    places[rkey] = place
        return [self.receivers[rkey] for rkey in sorted(places, key=places.__getitem__)]

    def _dispatch(self, sender: object) -> Dispatch:
        """Return the snapshot for a send by ``sender`` (:meth:`send` inlines this)."""
        dispatch = self._any_dispatch
        if dispatch is None:
            key = sender_key(sender)
            dispatch = self._cache.get(key) or self._dispatch_for(key)
        return dispatch

    def _robust_outcome(
        self,
        results: list[tuple[Receiver, t.Any]],
        failures: list[tuple[Receiver, Exception]],
        *,
        raise_group: bool,
    ) -> list[tuple[Receiver, t.Any]]:
        if failures and raise_group:
            for receiver, exc in failures:
                exc.add_note(f"raised by receiver {receiver!r} of {self!r}")
            msg = f"{len(failures)} receiver(s) of {self!r} raised"
            raise ReceiverErrors(msg, [exc for _, exc in failures], results)
        _log_failures(self, failures)
        return results

    def _refuse_async(self, dispatch: Dispatch) -> None:
        for get, is_async in zip(dispatch.getters, dispatch.flags, strict=True):
            receiver = get()
            if is_async and receiver is not None:
                msg = (
                    f"{receiver!r} is a coroutine receiver of {self!r}, and send() "
                    "cannot await it. Use 'await signal.send_async(...)', or pass "
                    "_async_wrapper= (such as Flask's app.ensure_sync) to send()."
                )
                raise AsyncReceiverError(msg)


def _log_failures(signal: Signal, failures: list[tuple[Receiver, Exception]]) -> None:
    for receiver, exc in failures:
        name = getattr(receiver, "__qualname__", None) or repr(receiver)
        _logger.error(
            "receiver %s of %r raised",
            name,
            signal,
            exc_info=(type(exc), exc, exc.__traceback__),
        )


def _reentered(signal: Signal, operation: str) -> RuntimeError:
    """Return the error for a call that would wait for its own thread's lock.

    Only code run in the middle of one of the signal's own changes can make
    one: a finalizer (``__del__``) or weak reference callback, run by the
    garbage collector or by a last reference dropped during the change.
    """
    msg = (
        f"cannot {operation} {signal!r} now: this thread is in the middle of "
        "changing that signal, so this call comes from a finalizer (__del__) "
        "that the garbage collector ran meanwhile, and it would wait for "
        "itself forever. Do not use signals in __del__: receivers held weakly "
        "(the default) disconnect by themselves when they die."
    )
    return RuntimeError(msg)


def _positional_error(method: str, args: tuple[object, ...]) -> TypeError:
    msg = (
        f"{method}() takes the sender as its only positional argument, but "
        f"{len(args)} more were given: {args!r}. Pass them as keyword arguments, "
        f"for example {method}(sender, value=...)."
    )
    return TypeError(msg)
