"""The :class:`Signal`: connecting receivers, and sending to them in order.

A signal keeps its lock, its meta-signals and its public methods (the robust
and concurrent sends are in :mod:`anysignal._policies`); its connections live in
a :class:`~anysignal._table.ConnectionTable`, and every send runs one of the
loops of :mod:`anysignal._loops` over a snapshot of them.
"""

from __future__ import annotations

import threading
import typing as t
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ._errors import positional_error, reentered_error, refuse_async
from ._identity import identity_key
from ._loops import (
    AWAIT_EACH,
    AWAIT_EACH_MIXED,
    CALL_EACH,
    CALL_EACH_MIXED,
    hide_loop_frame,
)
from ._policies import DispatchPolicies, Results
from ._receivers import AsyncWrapper, Receiver, SyncWrapper
from ._senders import ANY, ANY_KEY, NOT_KEYED_BY_ID, SenderRef, sender_key_of
from ._table import Connected, ConnectionTable

if t.TYPE_CHECKING:
    from collections.abc import Hashable

    from ._receivers import ReceiverRecord
    from ._snapshot import Snapshot

F = t.TypeVar("F", bound=Callable[..., t.Any])


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


class Signal(DispatchPolicies):
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
        "_held",
        "_lock",
        "_mute_depth",
        "_receiver_connected",
        "_receiver_disconnected",
        "_table",
        "receivers",
    )

    ANY = ANY
    """An alias for :data:`anysignal.ANY`."""

    def __init__(self, doc: str | None = None) -> None:
        if doc:
            self.__doc__ = doc
        self._table = ConnectionTable(_make_reaper(self))
        self.receivers = self._table.receivers
        """Every connected receiver's record, by receiver key. Its truth value
        tells whether anything is connected (as in blinker); the rest of its
        structure is private."""
        self._mute_depth = 0
        # Guards the table and the building of snapshots; never held while a
        # receiver runs, nor while a meta-signal is sent. Never taken twice by
        # one thread either: an RLock only so that ``_held()`` can tell whether
        # the calling thread holds it (see _errors.reentered_error).
        self._lock = threading.RLock()
        self._held: Callable[[], bool] = self._lock._is_owned  # type: ignore[attr-defined]
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
                raise reentered_error(self, f"make {attribute.lstrip('_')}")
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
        receiver_key = identity_key(receiver)
        sender_key = ANY_KEY if sender is ANY else sender_key_of(sender)
        # acquire/release rather than ``with``: see the Performance page.
        self._lock.acquire()
        try:
            if self._table.dead:
                self._table.collect_dead()
            connected = self._table.connect(
                receiver, receiver_key, sender, sender_key, weak, priority
            )
        finally:
            self._lock.release()
        if self._table.dead:
            self._collect_dead_if_free()
        meta = self._receiver_connected
        if meta is not None and meta.receivers:
            self._announce_connection(
                meta,
                receiver,
                sender,
                weak=weak,
                receiver_key=receiver_key,
                sender_key=sender_key,
                connected=connected,
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
        sender_key = ANY_KEY if sender is ANY else sender_key_of(sender)
        record = self.receivers.get(identity_key(receiver))
        already = record is not None and sender_key in record.senders
        if not already:  # connecting again could only change its priority
            self.connect(receiver, sender, weak=record.weak if record else False)
        try:
            yield None
        finally:
            if not already:
                self._disconnect(receiver, sender, sender_key)

    def disconnect(self, receiver: Receiver, sender: t.Any = ANY) -> None:
        """Disconnect ``receiver`` from ``sender``.

        :param receiver: A connected receiver. Disconnecting one that is not
            connected does nothing.
        :param sender: Disconnect from this sender only; by default
            :data:`ANY`, which disconnects ``receiver`` from every sender.
        """
        self._disconnect(
            receiver, sender, None if sender is ANY else sender_key_of(sender)
        )

    @contextmanager
    def muted(self) -> Iterator[None]:
        """Make every send method of this signal call nothing within a block.

        Blocks nest: the signal is muted until the outermost block ends. The
        signal is muted for every thread and task, not only the caller's.
        """
        if self._held():
            raise reentered_error(self, "mute")
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
        self,
        sender: t.Any = None,
        /,
        *args: t.Never,
        _async_wrapper: AsyncWrapper | None = None,
        **kwargs: t.Any,
    ) -> Results:
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
        if args:
            raise positional_error("send", args)
        if not self.receivers or self._mute_depth:
            return []
        snapshot = self._table.any_snapshot
        if snapshot is None:  # some receivers are for particular senders
            sender_key = (
                id(sender)
                if type(sender) not in NOT_KEYED_BY_ID
                else sender_key_of(sender)
            )
            snapshot = self._table.cache.get(sender_key) or self._snapshot(sender_key)
        lone = snapshot.lone_sync
        if lone is not None:  # call_each() for one sync receiver, without a loop
            receiver = lone()
            return [] if receiver is None else [(receiver, receiver(sender, **kwargs))]
        names = tuple(kwargs)
        try:
            if not snapshot.has_async:
                loop = CALL_EACH.copies.get(names) or CALL_EACH.compile(names)
                return loop(snapshot, sender, kwargs)
            if _async_wrapper is None:
                refuse_async(self, snapshot)
            mixed = CALL_EACH_MIXED.copies.get(names) or CALL_EACH_MIXED.compile(names)
            return mixed(snapshot, sender, kwargs, _async_wrapper)
        except BaseException as exc:
            hide_loop_frame(exc.__traceback__)
            raise

    async def send_async(
        self,
        sender: t.Any = None,
        /,
        *args: t.Never,
        _sync_wrapper: SyncWrapper | None = None,
        **kwargs: t.Any,
    ) -> Results:
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
            raise positional_error("send_async", args)
        if not self.receivers or self._mute_depth:
            return []
        snapshot = self._table.any_snapshot or self._snapshot_for(sender)
        lone = snapshot.lone_async
        if lone is not None:  # await_each() for one coroutine receiver
            receiver = lone()
            if receiver is None:
                return []
            return [(receiver, await receiver(sender, **kwargs))]
        names = tuple(kwargs)
        try:
            if snapshot.all_async:
                loop = AWAIT_EACH.copies.get(names) or AWAIT_EACH.compile(names)
                return await loop(snapshot, sender, kwargs)
            mixed = AWAIT_EACH_MIXED.copies.get(names) or AWAIT_EACH_MIXED.compile(
                names
            )
            return await mixed(snapshot, sender, kwargs, _sync_wrapper)
        except BaseException as exc:
            hide_loop_frame(exc.__traceback__)
            raise

    def has_receivers_for(self, sender: t.Any) -> bool:
        """Tell whether a send by ``sender`` could call any receiver.

        Cheap, and read without the lock: a weakly held receiver that died a
        moment ago may still count, and so may the receivers of a dead sender
        whose ``id()`` ``sender`` reuses, until their clean-up (which is never
        late for a send). :meth:`receivers_for` gives the exact answer.
        """
        if not self.receivers:
            return False
        if self._table.by_sender[ANY_KEY]:
            return True
        # ANY's own entry always exists, possibly empty: it is not a sender's.
        return sender is not ANY and sender_key_of(sender) in self._table.by_sender

    def receivers_for(self, sender: t.Any) -> Iterator[Receiver]:
        """Iterate over the live receivers a send by ``sender`` would call, in order.

        :param sender: As for :meth:`send`; :data:`ANY` gives the receivers
            connected for :data:`ANY` only.
        """
        if not self.receivers:
            return iter(())
        return (receiver for receiver, _ in self._snapshot_for(sender).live())

    # -- bookkeeping: snapshots, changes under the lock, clean-up -----------

    def _snapshot_for(self, sender: object) -> Snapshot:
        """Return the snapshot for a send by ``sender`` (:meth:`send` inlines this)."""
        snapshot = self._table.any_snapshot
        if snapshot is None:
            sender_key = sender_key_of(sender)
            snapshot = self._table.cache.get(sender_key) or self._snapshot(sender_key)
        return snapshot

    def _snapshot(self, sender_key: Hashable) -> Snapshot:
        """Build (or find) the snapshot for ``sender_key``, after a cache miss."""
        if self._held():
            raise reentered_error(self, "send")
        with self._lock:
            if self._table.dead:
                self._table.collect_dead()
            snapshot = self._table.snapshot(sender_key)
        if self._table.dead:
            self._collect_dead_if_free()
        return snapshot

    def _disconnect(
        self, receiver: Receiver, sender: t.Any, sender_key: Hashable | None
    ) -> None:
        """Disconnect from ``sender_key`` only, or from all senders when it is None."""
        receiver_key = identity_key(receiver)
        if self._held():
            raise reentered_error(self, f"disconnect {receiver!r} from")
        self._lock.acquire()  # not ``with``: see connect()
        try:
            if self._table.dead:
                self._table.collect_dead()
            record = self.receivers.get(receiver_key)
            if record is not None:
                self._table.remove(
                    record, record.senders if sender_key is None else (sender_key,)
                )
        finally:
            self._lock.release()
        if self._table.dead:
            self._collect_dead_if_free()
        meta = self._receiver_disconnected
        if meta is not None and meta.receivers:
            meta.send(self, receiver=receiver, sender=sender)

    def _announce_connection(
        self,
        meta: Signal,
        receiver: Receiver,
        sender: object,
        *,
        weak: bool,
        receiver_key: int,
        sender_key: Hashable,
        connected: Connected,
    ) -> None:
        """Send :attr:`receiver_connected`; undo the connection if it raises.

        A connection that a meta-receiver refused leaves everything as it was:
        a new subscription is removed (and with it the sender's holding, if it
        was the sender's first), an existing one gets back its priority, and a
        weakly held receiver that this connect made strong is weak again.
        """
        added, replaced, previous_priority = connected
        try:
            meta.send(self, receiver=receiver, sender=sender, weak=weak)
        except BaseException:
            if added:
                self._disconnect(receiver, sender, sender_key)
            with self._lock:
                if not added:
                    self._table.restore_priority(
                        sender_key, receiver_key, previous_priority
                    )
                if replaced is not None:
                    self._table.put_back(replaced)
            raise

    def _reap(self, ref: SenderRef | ReceiverRecord) -> None:
        """Note that a receiver or sender died; clean up now if the lock is free.

        Runs inside the garbage collector, possibly in a thread that holds the
        lock already: it must never block. What it cannot clean up now, the
        lock's holder cleans up as soon as it has released the lock (see
        _collect_dead_if_free), and any later change cleans up first.
        """
        self._table.note_dead(ref)
        self._collect_dead_if_free()

    def _collect_dead_if_free(self) -> None:
        # Called after a reference died, and after connect, disconnect and a
        # snapshot build release the lock: when the lock is taken, its holder
        # comes here once it has released it. What a rarer holder (muted(),
        # say) leaves behind, the next change of connections collects first.
        # Never in the thread that holds the lock: its own change is under way.
        while (
            self._table.dead and not self._held() and self._lock.acquire(blocking=False)
        ):
            try:
                self._table.collect_dead()
            finally:
                self._lock.release()

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
            raise reentered_error(self, f"connect {receiver!r} to")
