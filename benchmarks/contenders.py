"""The contenders: anysignal, its peers, and the floors they are measured against.

Every contender is driven through one small interface, so that each case is
written once and run for all of them. A contender describes its timed operation
as source text (``signal.send(sender, x=1)``) rather than as a function, because
the timing loop inlines that text: a wrapper function around each operation
would add a call (about 50 ns) to every measurement, as much as a whole send to
0 receivers.

What each peer's operation is, and why it is the fairest equivalent, is said in
its class docstring; docs/performance.rst repeats it.
"""

from __future__ import annotations

import functools
import threading
import typing as t
import weakref
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from types import CodeType, FunctionType, MethodType

import blinker
import django.dispatch  # type: ignore[import-untyped]
import psygnal

import anysignal

Receiver: t.TypeAlias = Callable[..., t.Any]
Mode: t.TypeAlias = t.Literal["sync", "async", "mixed"]
"""Which receivers a send calls: all sync, all coroutines, or alternating."""
Backend: t.TypeAlias = t.Literal["sync", "asyncio", "trio"]
"""Where a case runs: no event loop, or inside one run of that loop."""


class Sender:
    """A sender all peers accept: Django's cache needs it hashable and weakly held."""

    __slots__ = ("__weakref__",)

    def __repr__(self) -> str:
        return f"<Sender at {id(self):#x}>"


class Listener:
    """An object whose bound method is connected, in the bound-method cases."""

    __slots__ = ("__weakref__",)

    def on_signal(self, sender: object, x: int = 1) -> int:
        return x

    def on_signal_kw(self, sender: object, x: int = 1, **kwargs: object) -> int:
        return x


# -- receivers -----------------------------------------------------------------

_RECEIVER_SOURCE = """\
{prefix}def receiver(sender, x=1{kwargs}):
    {body}
"""
_PLAIN_BODY = "return x"
_RECORDING_BODY = "log.append(index)\n    return (index, x)"


@functools.cache
def _receiver_code(*, is_async: bool, kwargs: bool, recording: bool) -> CodeType:
    source = _RECEIVER_SOURCE.format(
        prefix="async " if is_async else "",
        kwargs=", **kwargs" if kwargs else "",
        body=_RECORDING_BODY if recording else _PLAIN_BODY,
    )
    scope: dict[str, t.Any] = {}
    exec(source, scope)
    code: CodeType = scope["receiver"].__code__
    return code


def make_receiver(
    index: int, *, is_async: bool, kwargs: bool = False, log: list[int] | None = None
) -> Receiver:
    """Return a new receiver function: ``receiver(sender, x=1) -> x``.

    Every call gives a distinct function object (each one is connected, and held
    weakly, on its own) over shared code, compiled once per variant. With ``log``,
    the receiver is the recording variant used by the sanity checks: it appends
    ``index`` to ``log`` and returns ``(index, x)``; the timed variant does
    nothing but return ``x``, so that the receivers cost as little as possible
    and the dispatch overhead stands out. ``kwargs`` adds ``**kwargs``, which
    Django's receivers must accept.
    """
    code = _receiver_code(is_async=is_async, kwargs=kwargs, recording=log is not None)
    scope = {"log": log, "index": index}
    receiver = FunctionType(code, scope, f"receiver_{index}", (1,))
    receiver.__qualname__ = receiver.__name__  # for readable check failures
    return receiver


def inline_sync_wrapper(receiver: Receiver) -> Callable[..., Awaitable[t.Any]]:
    """Make a sync receiver awaitable by calling it inline, for blinker's send_async.

    blinker refuses sync receivers in ``send_async`` unless given a
    ``_sync_wrapper``; this one calls them inline, on the event loop, which is
    what anysignal does without a wrapper, so both do the same work.
    """

    async def wrapper(*args: t.Any, **kwargs: t.Any) -> t.Any:
        return receiver(*args, **kwargs)

    return wrapper


@dataclass(frozen=True)
class Connection:
    """One receiver to connect, for ``sender`` (``None``: for any sender)."""

    index: int
    receiver: Receiver
    sender: object | None
    fires: bool
    """Whether the case's send calls this receiver."""
    is_async: bool


# -- floors --------------------------------------------------------------------
# A floor is the least work a send could do: the loop over exactly the receivers
# that fire, written out inline with the call's literal arguments,
# ``for r in receivers: r(sender, x=1)``. With 0 receivers there is no loop,
# and the floor is the call of an empty method with send's signature.


class Floor:
    """The receivers the floor loops over, and its empty method for 0 receivers."""

    def __init__(self, receivers: Sequence[Receiver], flags: Sequence[bool]) -> None:
        self.receivers = tuple(receivers)
        self.pairs = tuple(zip(receivers, flags, strict=True))

    def send(
        self, sender: object, /, *, _async_wrapper: object = None, **kwargs: t.Any
    ) -> tuple[()]:
        # send's signature, with its keyword parameter: binding it is part of
        # calling any method that has one.
        return ()


@dataclass(frozen=True)
class Code:
    """Source text of an operation, inlined into the timing loop."""

    stmt: str
    """One or more lines, using ``signal``, ``sender`` and the contender's names."""
    result: str | None = None
    """An expression giving the operation's result after ``stmt``;
    ``None``: ``stmt`` is an expression, and its value is the result."""


def _weak_target(receiver: Receiver) -> object:
    # A bound method is made anew at each attribute access: hold its instance.
    return receiver.__self__ if type(receiver) is MethodType else receiver


class WeakRegistry:
    """The connect and memory floor: a dict of one ``weakref.ref`` per receiver.

    No sender table, no order, no cleanup callback: the least any weak
    connect/disconnect must do.
    """

    def __init__(self) -> None:
        self.receivers: dict[int, weakref.ref[object]] = {}

    def connect(self, receiver: Receiver) -> None:
        target = _weak_target(receiver)
        self.receivers[id(target)] = weakref.ref(target)

    def disconnect(self, receiver: Receiver) -> None:
        self.receivers.pop(id(_weak_target(receiver)), None)


class WeakFloor(Floor):
    """The weak floor's receivers: each one reached through a ``weakref.ref``.

    The send cases connect plain functions. A bound method would need binding
    afresh at each call through a weak reference to its instance, which this
    floor does not do.
    """

    def __init__(self, receivers: Sequence[Receiver], flags: Sequence[bool]) -> None:
        super().__init__(receivers, flags)
        self.refs = tuple(weakref.ref(r) for r in receivers)
        self.weak_pairs = tuple(zip(self.refs, flags, strict=True))


class _KeyedRef(weakref.ref[object]):
    __slots__ = ("key",)
    key: int


class LockedWeakRegistry(WeakRegistry):
    """The weak floor's registry: :class:`WeakRegistry`, thread-safe and self-cleaning.

    Each change holds a lock, and each weak reference has a callback that
    removes it when its receiver dies: the least a thread-safe weak
    connect/disconnect must do. Still no sender table and no order. The
    callback waits for the lock, which a general design must not do (the
    garbage collector can run it in the thread that holds the lock) and which
    this floor can afford only because nothing runs under its lock that could
    start a collection: so it is, if anything, a little too cheap.
    """

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        # Bound once: reading ``self.forget`` makes a new method object each time.
        self.callback = self.forget

    def connect(self, receiver: Receiver) -> None:
        target = _weak_target(receiver)
        ref = _KeyedRef(target, self.callback)
        ref.key = id(target)
        with self.lock:
            self.receivers[ref.key] = ref

    def disconnect(self, receiver: Receiver) -> None:
        with self.lock:
            self.receivers.pop(id(_weak_target(receiver)), None)

    def forget(self, ref: _KeyedRef) -> None:
        with self.lock:
            if self.receivers.get(ref.key) is ref:
                del self.receivers[ref.key]


# -- the contenders ----------------------------------------------------------------


class Contender:
    """How one library (or floor) is set up and driven in the cases."""

    name: t.ClassVar[str]
    """The key in results and JSON."""
    label: t.ClassVar[str]
    """The column heading in tables and the chart."""
    is_floor: t.ClassVar[bool] = False
    ordered: t.ClassVar[bool] = False
    """Whether it promises connection order (checked exactly, like results)."""
    returns_results: t.ClassVar[bool] = True
    filters_senders: t.ClassVar[bool] = True
    kwargs_receivers: t.ClassVar[bool] = False
    """Whether its receivers must take ``**kwargs`` (Django's pass ``signal=``)."""
    cleans_up_senders: t.ClassVar[bool] = False
    """Whether a sender's death removes its subscriptions (the many-senders case)."""
    async_backends: t.ClassVar[frozenset[Backend]] = frozenset({"asyncio", "trio"})
    namespace: t.ClassVar[dict[str, t.Any]] = {}
    """Extra names its source text uses."""

    def receiver(
        self, index: int, *, is_async: bool, log: list[int] | None = None
    ) -> Receiver:
        return make_receiver(
            index, is_async=is_async, kwargs=self.kwargs_receivers, log=log
        )

    @property
    def method_name(self) -> str:
        return "on_signal_kw" if self.kwargs_receivers else "on_signal"

    def new_signal(self) -> t.Any:
        raise NotImplementedError

    def connect(self, signal: t.Any, receiver: Receiver, sender: object) -> None:
        """Connect ``receiver`` weakly, for ``sender`` (``None``: any sender)."""
        if sender is None:
            signal.connect(receiver)
        else:
            signal.connect(receiver, sender=sender)

    def build(self, connections: Sequence[Connection]) -> t.Any:
        """Return a signal with ``connections`` made, for a send case."""
        signal = self.new_signal()
        for connection in connections:
            self.connect(signal, connection.receiver, connection.sender)
        return signal

    def build_registry(self, connections: Sequence[Connection]) -> t.Any | None:
        """Return a signal for a connect or memory case, or ``None``: n/a."""
        return self.build(connections)

    def send_expr(self, mode: Mode) -> str | None:
        """The source of one send (``None``: n/a), using ``signal`` and ``sender``."""
        if mode == "sync":
            return "signal.send(sender, x=1)"
        return "await signal.send_async(sender, x=1)"

    def send_code(self, mode: Mode, connections: Sequence[Connection]) -> Code | None:
        """The code of one send to ``connections`` (``None``: n/a)."""
        expr = self.send_expr(mode)
        return None if expr is None else Code(expr)

    def count(self, signal: t.Any) -> int:
        """How many receivers ``signal`` has, to check connect and disconnect."""
        return len(signal.receivers)

    def subscribed_senders(self, signal: t.Any) -> int:
        """How many senders ``signal`` holds subscriptions for (many-senders case)."""
        raise NotImplementedError


class AnysignalContender(Contender):
    """``anysignal.Signal``: ``send(sender, x=1)``, ``send_async(sender, x=1)``."""

    name = "anysignal"
    label = "anysignal"
    ordered = True
    cleans_up_senders = True

    def new_signal(self) -> anysignal.Signal:
        return anysignal.Signal()

    def subscribed_senders(self, signal: t.Any) -> int:
        # Its table of connections by sender key keeps an entry for ANY.
        return sum(1 for key in signal._table.by_sender if key != id(anysignal.ANY))


class BlinkerContender(Contender):
    """``blinker.Signal``: the same calls; sync receivers in send_async go through
    :func:`inline_sync_wrapper`, since blinker requires a ``_sync_wrapper`` for them.
    """

    name = "blinker"
    label = "blinker"
    cleans_up_senders = True
    namespace: t.ClassVar[dict[str, t.Any]] = {"inline_sync": inline_sync_wrapper}

    def new_signal(self) -> blinker.Signal:
        return blinker.Signal()

    def subscribed_senders(self, signal: t.Any) -> int:
        # Its table of receiver ids by sender id; ANY's id is 0. Emptied sets
        # may stay behind (blinker prunes them only on request): not counted.
        return sum(1 for key, ids in signal._by_sender.items() if key != 0 and ids)

    def send_expr(self, mode: Mode) -> str | None:
        if mode == "mixed":
            return "await signal.send_async(sender, _sync_wrapper=inline_sync, x=1)"
        return super().send_expr(mode)


class DjangoContender(Contender):
    """``django.dispatch.Signal(use_caching=True)``: ``send(sender, x=1)``.

    Its receivers take ``**kwargs`` (it passes ``signal=`` too). ``asend`` is
    asyncio-only: it runs coroutine receivers concurrently with
    ``asyncio.gather`` and sync ones in a thread (``sync_to_async``).

    Not in the many-senders case: it keeps no reference to a sender, so a dead
    sender's subscriptions stay until they are disconnected (and a new object
    that gets its ``id()`` inherits them), and each ``connect`` scans every
    connection, which makes connecting for 40,000 senders take about a minute.
    """

    name = "django"
    label = "Django"
    kwargs_receivers = True
    async_backends = frozenset({"asyncio"})

    def new_signal(self) -> t.Any:
        return django.dispatch.Signal(use_caching=True)

    def send_expr(self, mode: Mode) -> str | None:
        if mode == "sync":
            return "signal.send(sender, x=1)"
        return "await signal.asend(sender, x=1)"


class PsygnalContender(Contender):
    """``psygnal.SignalInstance((object, int))``: ``emit(sender, 1)``.

    psygnal passes arguments positionally, so the same receivers get ``(sender,
    1)``. It has no per-sender connections and no awaiting emit (coroutine
    callbacks are scheduled, not awaited), and holds plain functions strongly.
    """

    name = "psygnal"
    label = "psygnal"
    returns_results = False
    filters_senders = False
    async_backends = frozenset()

    def new_signal(self) -> psygnal.SignalInstance:
        return psygnal.SignalInstance((object, int))

    def connect(self, signal: t.Any, receiver: Receiver, sender: object) -> None:
        if sender is not None:
            msg = "psygnal has no per-sender connections"
            raise ValueError(msg)
        signal.connect(receiver)

    def send_expr(self, mode: Mode) -> str | None:
        return "signal.emit(sender, 1)" if mode == "sync" else None

    def count(self, signal: t.Any) -> int:
        return len(signal)


class PsygnalFastContender(PsygnalContender):
    """psygnal's ``emit_fast(sender, 1)``: no thread lock, no argument checks."""

    name = "psygnal_fast"
    label = "psygnal emit_fast"

    def build_registry(self, connections: Sequence[Connection]) -> None:
        return None  # the same connect as psygnal's: no second column

    def send_expr(self, mode: Mode) -> str | None:
        return "signal.emit_fast(sender, 1)" if mode == "sync" else None


_LOOPS: dict[Mode, str] = {
    "sync": "for r in signal.receivers: r(sender, x=1)",
    "async": "for r in signal.receivers: await r(sender, x=1)",
    "mixed": """\
for r, is_async in signal.pairs:
    if is_async: await r(sender, x=1)
    else: r(sender, x=1)""",
}
_LIST_LOOPS: dict[Mode, str] = {
    "sync": """\
results = []
for r in signal.receivers: results.append((r, r(sender, x=1)))""",
    "async": """\
results = []
for r in signal.receivers: results.append((r, await r(sender, x=1)))""",
    "mixed": """\
results = []
for r, is_async in signal.pairs:
    if is_async: results.append((r, await r(sender, x=1)))
    else: results.append((r, r(sender, x=1)))""",
}


class LoopFloorContender(Contender):
    """The plain loop floor (a :class:`WeakRegistry` for connect and memory)."""

    name = "floor"
    label = "floor: loop"
    is_floor = True
    ordered = True
    returns_results = False
    loops: t.ClassVar[dict[Mode, str]] = _LOOPS
    result: t.ClassVar[str] = "None"
    floor: t.ClassVar[type[Floor]] = Floor
    registry: t.ClassVar[type[WeakRegistry]] = WeakRegistry

    def build(self, connections: Sequence[Connection]) -> Floor:
        firing = [c for c in connections if c.fires]
        return self.floor([c.receiver for c in firing], [c.is_async for c in firing])

    def build_registry(self, connections: Sequence[Connection]) -> t.Any | None:
        registry = self.registry()
        for connection in connections:
            registry.connect(connection.receiver)
        return registry

    def send_code(self, mode: Mode, connections: Sequence[Connection]) -> Code | None:
        if not any(c.fires for c in connections):
            return Code("signal.send(sender, x=1)")  # the empty method call
        return Code(self.loops[mode], self.result)


class ListFloorContender(LoopFloorContender):
    """The loop floor that also builds the ``[(receiver, result)]`` list."""

    name = "floor_list"
    label = "floor: loop+list"
    returns_results = True
    loops = _LIST_LOOPS
    result = "results"

    def build_registry(self, connections: Sequence[Connection]) -> None:
        return None


_WEAK_LIST_LOOPS: dict[Mode, str] = {
    "sync": """\
results = []
for ref in signal.refs:
    r = ref()
    if r is not None: results.append((r, r(sender, x=1)))""",
    "async": """\
results = []
for ref in signal.refs:
    r = ref()
    if r is not None: results.append((r, await r(sender, x=1)))""",
    "mixed": """\
results = []
for ref, is_async in signal.weak_pairs:
    r = ref()
    if r is None: continue
    if is_async: results.append((r, await r(sender, x=1)))
    else: results.append((r, r(sender, x=1)))""",
}


class WeakListFloorContender(LoopFloorContender):
    """The list loop floor over weak references, skipping dead receivers.

    What any dispatcher that holds receivers weakly (as anysignal, blinker and
    Django do by default) and returns the ``[(receiver, result)]`` list must do
    per receiver, with nothing else: no lookup, no order, no checks. For
    connect and memory, a :class:`LockedWeakRegistry`.
    """

    name = "floor_weak"
    label = "floor: weak+list"
    returns_results = True
    loops = _WEAK_LIST_LOOPS
    result = "results"
    floor = WeakFloor
    registry = LockedWeakRegistry


CONTENDERS: tuple[Contender, ...] = (
    LoopFloorContender(),
    ListFloorContender(),
    WeakListFloorContender(),
    AnysignalContender(),
    BlinkerContender(),
    DjangoContender(),
    PsygnalContender(),
    PsygnalFastContender(),
)
"""In table and chart order."""

PEERS: tuple[Contender, ...] = tuple(
    c for c in CONTENDERS if not c.is_floor and c.name != "anysignal"
)
