"""The table of cases, how each is set up for a contender, and its sanity check.

Every timed case is checked once per contender before it is timed: a recording
copy of its setup is run once and must call the expected receivers (in order,
for anysignal and the floors) and return the expected results. A failure raises
:class:`BenchmarkError`; the suite never asserts anything about speed.
"""

from __future__ import annotations

import functools
import gc
import tracemalloc
import typing as t
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, replace

from contenders import Backend, Code, Connection, Contender, Listener, Mode, Sender
from timing import Settings, Stats, compile_once

Op: t.TypeAlias = t.Literal["send", "connect", "senders", "memory"]

FIRING_SENDER = 50
"""In the filtered case, the index of the sender that sends."""


class BenchmarkError(Exception):
    """A case could not run, or a contender gave a wrong answer."""


@dataclass(frozen=True)
class Case:
    id: str
    title: str
    op: Op
    receivers: int
    """Receivers that fire (send); already connected (connect); connected (memory)."""
    filtered: bool = False
    """Each receiver gets its own sender, plus one receiver for ANY: 2 fire."""
    mode: Mode = "sync"
    backend: Backend = "sync"
    target: t.Literal["function", "method"] = "function"
    send_after: bool = False
    """Memory: measure after one send too (anysignal and Django cache on send)."""
    rounds: int | None = None
    """At most this many timed rounds (and one warm-up round), for a case whose
    one operation takes a tenth of a second or more."""

    @property
    def unit(self) -> str:
        if self.op == "memory":
            return "B/receiver"
        return "ns/sender" if self.op == "senders" else "ns/op"

    def timing(self, settings: Settings) -> Settings:
        """The settings to time this case with: ``settings``, within its rounds."""
        if self.rounds is None:
            return settings
        return replace(
            settings,
            rounds=min(settings.rounds, self.rounds),
            warmup=min(settings.warmup, 1),
        )


def _async_cases(backend: Backend) -> tuple[Case, ...]:
    return (
        Case(f"async-{backend}-1", f"send_async, 1 coroutine ({backend})", "send", 1,
             mode="async", backend=backend),
        Case(f"async-{backend}-10", f"send_async, 10 coroutines ({backend})", "send",
             10, mode="async", backend=backend),
        Case(f"async-{backend}-mixed", f"send_async, 5 sync + 5 async ({backend})",
             "send", 10, mode="mixed", backend=backend),
    )  # fmt: skip


CASES: tuple[Case, ...] = (
    Case("send-0", "send, 0 receivers", "send", 0),
    Case("send-1", "send, 1 receiver", "send", 1),
    Case("send-2", "send, 2 receivers", "send", 2),
    Case("send-10", "send, 10 receivers", "send", 10),
    Case("send-100", "send, 100 receivers", "send", 100),
    Case("send-filtered", "send, 100 senders + ANY (2 fire)", "send", 100,
         filtered=True),
    *_async_cases("asyncio"),
    *_async_cases("trio"),
    Case("connect-function", "connect+disconnect, weak function", "connect", 10),
    Case("connect-method", "connect+disconnect, weak bound method", "connect", 10,
         target="method"),
    Case("many-senders", "1 receiver, many senders: connect, senders die (per sender)",
         "senders", 1, rounds=9),
    Case("memory-connect", "memory, weak bound method (connected)", "memory", 10_000),
    Case("memory-send", "memory, weak bound method (after a send)", "memory", 10_000,
         send_after=True),
)  # fmt: skip
"""Every case, in table order."""


@dataclass
class Timed:
    """A case set up for one contender: what to time, and how to check it first."""

    code: Code
    namespace: dict[str, t.Any]
    check: Callable[[], Coroutine[t.Any, t.Any, None]]
    parts: int = 1
    """What one run of ``code`` is made of (senders, in the many-senders case):
    the results are given per part."""


def _fail(case: Case, contender: Contender, problem: str) -> t.NoReturn:
    msg = f"{case.id}: {contender.label} {problem}"
    raise BenchmarkError(msg)


# -- send cases -------------------------------------------------------------------


def _connections(
    case: Case, contender: Contender, log: list[int] | None
) -> tuple[list[Connection], object, list[Sender]]:
    """Return a send case's connections, its sender, and the senders to keep alive."""

    def connection(index: int, sender: object, *, fires: bool) -> Connection:
        # In the mixed case, receivers alternate: sync, async, sync...
        is_async = case.mode == "async" or (case.mode == "mixed" and index % 2 == 1)
        receiver = contender.receiver(index, is_async=is_async, log=log)
        return Connection(index, receiver, sender, fires, is_async)

    if not case.filtered:
        connections = [connection(i, None, fires=True) for i in range(case.receivers)]
        sender = Sender()
        return connections, sender, [sender]
    senders = [Sender() for _ in range(case.receivers)]
    connections = [connection(0, None, fires=True)]
    connections += [
        connection(i + 1, sender, fires=i == FIRING_SENDER)
        for i, sender in enumerate(senders)
    ]
    return connections, senders[FIRING_SENDER], senders


def _send_setup(
    case: Case, contender: Contender, log: list[int] | None
) -> tuple[dict[str, t.Any], list[Connection]]:
    connections, sender, senders = _connections(case, contender, log)
    namespace = {
        **contender.namespace,
        "signal": contender.build(connections),
        "sender": sender,
        # Senders and function receivers are held weakly: keep them alive.
        "_alive": (senders, connections),
    }
    return namespace, connections


def _check_send_result(
    case: Case,
    contender: Contender,
    connections: list[Connection],
    log: list[int],
    value: t.Any,
) -> None:
    expected = [c.index for c in connections if c.fires]
    # blinker promises no order, and Django's asend runs sync receivers first.
    if log != expected and (contender.ordered or sorted(log) != sorted(expected)):
        _fail(case, contender, f"called receivers {log}, expected {expected}")
    if not contender.returns_results:
        return
    receivers = {c.index: c.receiver for c in connections}
    want = [(receivers[i], (i, 1)) for i in expected]
    got = list(value)
    if contender.ordered:
        if got != want:
            _fail(case, contender, f"returned {got!r}, expected {want!r}")
    elif sorted(result for _, result in got) != sorted(r for _, r in want):
        _fail(case, contender, f"returned {got!r}, expected {want!r} in any order")


def _timed_send(case: Case, contender: Contender) -> Timed | None:
    if (case.filtered and not contender.filters_senders) or (
        case.backend != "sync" and case.backend not in contender.async_backends
    ):
        return None
    namespace, connections = _send_setup(case, contender, log=None)
    code = contender.send_code(case.mode, connections)
    if code is None:
        return None

    async def check() -> None:
        log: list[int] = []
        check_namespace, check_connections = _send_setup(case, contender, log)
        value = await compile_once(code, check_namespace)()
        _check_send_result(case, contender, check_connections, log, value)

    return Timed(code, namespace, check)


# -- connect cases ------------------------------------------------------------------


def _connect_setup(case: Case, contender: Contender) -> tuple[dict[str, t.Any], str]:
    """Return the namespace of a connect case, or raise LookupError if n/a."""
    others = [
        Connection(i, contender.receiver(i, is_async=False), None, False, False)
        for i in range(case.receivers)
    ]
    signal = contender.build_registry(others)
    if signal is None:
        raise LookupError(case.id)
    # A method is read at each call, as ``signal.connect(self.on_x)`` does.
    method = f"obj.{contender.method_name}"
    target = "receiver" if case.target == "function" else method
    namespace = {
        "signal": signal,
        "receiver": contender.receiver(case.receivers, is_async=False),
        "obj": Listener(),
        "_alive": others,
    }
    return namespace, target


def _timed_connect(case: Case, contender: Contender) -> Timed | None:
    try:
        namespace, target = _connect_setup(case, contender)
    except LookupError:
        return None
    code = Code(f"signal.connect({target}); signal.disconnect({target})")

    async def check() -> None:
        check_namespace, _ = _connect_setup(case, contender)
        signal = check_namespace["signal"]
        before = contender.count(signal)
        await compile_once(Code(f"signal.connect({target})"), check_namespace)()
        if contender.count(signal) != before + 1:
            _fail(case, contender, "did not connect the receiver")
        await compile_once(Code(f"signal.disconnect({target})"), check_namespace)()
        if contender.count(signal) != before:
            _fail(case, contender, "did not disconnect the receiver")

    return Timed(code, namespace, check)


# -- the many-senders case ----------------------------------------------------------

_CONNECT_EACH_SENDER = """\
senders = [Sender() for _ in each_sender]
for sender in senders: signal.connect(receiver, sender=sender)"""
"""Connects the receiver for each of ``len(each_sender)`` new senders.

The senders are made in the timed code, since each cycle needs new ones: about
2% of the cycle, the same for every contender.
"""

_SENDERS_DIE = "sender = senders = None"
"""Drops the last references to the senders: each one dies, and is cleaned up."""


def _senders_setup(
    contender: Contender, count: int, log: list[int] | None = None
) -> dict[str, t.Any]:
    return {
        "signal": contender.new_signal(),
        "receiver": contender.receiver(0, is_async=False, log=log),
        "Sender": Sender,
        "each_sender": range(count),
    }


async def _check_senders(case: Case, contender: Contender, count: int) -> None:
    """Check that each sender reaches the receiver, and that none is held once dead.

    A send by one more sender, connected for nothing, must reach no receiver.
    """
    log: list[int] = []
    namespace = _senders_setup(contender, count, log)
    signal = namespace["signal"]
    connect = Code(_CONNECT_EACH_SENDER, result="senders")
    senders = await compile_once(connect, namespace)()
    if (held := contender.subscribed_senders(signal)) != count:
        _fail(case, contender, f"holds subscriptions for {held} of {count} senders")
    expr = contender.send_expr("sync")
    if expr is None:
        _fail(case, contender, "cannot send")
    send = compile(expr, "<send>", "eval")
    for sender in [*senders, Sender()]:
        eval(send, {"signal": signal, "sender": sender})
    if log != [0] * count:
        _fail(case, contender, f"called the receiver {len(log)} times, not {count}")
    del sender, senders  # the last references: the senders die
    if (held := contender.subscribed_senders(signal)) != 0:
        _fail(case, contender, f"kept subscriptions for {held} dead senders")


def _timed_senders(
    case: Case, contender: Contender, settings: Settings
) -> Timed | None:
    if not contender.cleans_up_senders:
        return None
    count = settings.many_senders
    return Timed(
        Code(f"{_CONNECT_EACH_SENDER}\n{_SENDERS_DIE}"),
        _senders_setup(contender, count),
        functools.partial(_check_senders, case, contender, count),
        parts=count,
    )


def timed(case: Case, contender: Contender, settings: Settings) -> Timed | None:
    """Set up a timed case for ``contender``; ``None`` when it lacks the feature."""
    if case.op == "send":
        return _timed_send(case, contender)
    if case.op == "connect":
        return _timed_connect(case, contender)
    if case.op == "senders":
        return _timed_senders(case, contender, settings)
    msg = f"{case.id} is not a timed case"
    raise ValueError(msg)


# -- memory ---------------------------------------------------------------------


def memory(case: Case, contender: Contender, settings: Settings) -> Stats | None:
    """Return the bytes allocated per weakly connected bound method, or ``None``: n/a.

    The listeners exist before tracing starts, so only what the signal allocates
    for them is counted (records, weak references, tables, and after a send any
    cache). Garbage is collected before each reading.
    """
    expr = contender.send_expr("sync")
    signal = contender.build_registry([])
    if signal is None or (case.send_after and (contender.is_floor or expr is None)):
        return None
    count = settings.memory_receivers
    listeners = [Listener() for _ in range(count)]
    namespace = {"signal": signal, "sender": Sender()}
    gc.collect()
    tracemalloc.start()
    try:
        baseline = tracemalloc.get_traced_memory()[0]
        for listener in listeners:
            contender.connect(signal, getattr(listener, contender.method_name), None)
        if case.send_after:
            _check_memory_send(case, contender, listeners, eval(expr, namespace))  # type: ignore[arg-type]
        gc.collect()
        used = tracemalloc.get_traced_memory()[0] - baseline
    finally:
        tracemalloc.stop()
    if contender.count(signal) != count:
        _fail(
            case, contender, f"holds {contender.count(signal)} receivers, not {count}"
        )
    return Stats(used / count, used / count, used / count, count, 1)


def _check_memory_send(
    case: Case, contender: Contender, listeners: list[Listener], value: t.Any
) -> None:
    if not contender.returns_results:
        return
    got = [receiver for receiver, _ in value]
    if contender.ordered:
        if got != [listener.on_signal for listener in listeners]:
            _fail(case, contender, "did not call every listener in order")
    elif len(got) != len(listeners):
        _fail(case, contender, f"called {len(got)} of {len(listeners)} listeners")
