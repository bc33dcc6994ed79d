"""The one timing helper: inlined statements, timed in rounds, on any event loop.

Each contender's operation is compiled into the body of a loop, in the way
:mod:`timeit` does, so that nothing but the operation and the loop's own step
(a few ns) is timed. The loop is always an ``async def``: for the sync cases it
never suspends and is stepped by hand, for the async ones it runs inside one
``asyncio.run`` or ``trio.run`` with every round of every contender, so that the
event loop's start-up is never timed.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import statistics
import textwrap
import time
import typing as t
from collections.abc import Callable, Coroutine, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import trio

from contenders import Backend, Code

T = t.TypeVar("T")
Bench: t.TypeAlias = Callable[[int], Coroutine[t.Any, t.Any, int]]
"""``await bench(number)`` runs the operation ``number`` times; returns the ns taken."""

_BENCH_SOURCE = """\
async def bench(_number):
    _start = _clock()
    for _ in _repeat(None, _number):
        {stmt}
    return _clock() - _start
"""

_ONCE_SOURCE = """\
async def once():
{stmt}
    return {result}
"""


@dataclass(frozen=True)
class Settings:
    rounds: int
    """Timed rounds per contender and case; the median of them is reported."""
    warmup: int
    """Rounds run and dropped first (after calibration, which warms up too)."""
    round_ns: int
    """About how long one round lasts: sets how many operations it times."""
    memory_receivers: int
    many_senders: int
    """Senders in the many-senders case: each cycle connects and loses them all."""


# Many short rounds rather than a few long ones: on a shared machine, a round
# that another process preempts is an outlier the median drops.
FULL = Settings(
    rounds=31,
    warmup=2,
    round_ns=10_000_000,
    memory_receivers=10_000,
    many_senders=40_000,
)
QUICK = Settings(
    rounds=3, warmup=1, round_ns=1_000_000, memory_receivers=10_000, many_senders=2_000
)


@dataclass(frozen=True)
class Stats:
    """One contender's result in one case: ns per operation, or bytes per receiver."""

    median: float
    low: float
    high: float
    number: int
    """Operations per round (receivers, for memory)."""
    rounds: int

    @classmethod
    def of(cls, samples: list[float], number: int) -> Stats:
        return cls(
            statistics.median(samples), min(samples), max(samples), number, len(samples)
        )

    def per(self, parts: int) -> Stats:
        """These stats for each of the ``parts`` that one operation is made of."""
        return Stats(
            self.median / parts,
            self.low / parts,
            self.high / parts,
            self.number * parts,
            self.rounds,
        )


def _compile(source: str, name: str, namespace: Mapping[str, t.Any]) -> t.Any:
    # The operation's names (signal, sender...) become the globals of the
    # compiled function: a global load is as cheap as the attribute loads a real
    # caller does (``request_started.send(...)``).
    scope = {**namespace, "_clock": time.perf_counter_ns, "_repeat": itertools.repeat}
    exec(source, scope)
    return scope[name]


def compile_bench(code: Code, namespace: Mapping[str, t.Any]) -> Bench:
    """Compile an operation into a :data:`Bench`."""
    source = _BENCH_SOURCE.format(stmt=textwrap.indent(code.stmt, " " * 8).lstrip())
    bench: Bench = _compile(source, "bench", namespace)
    return bench


def compile_once(
    code: Code, namespace: Mapping[str, t.Any]
) -> Callable[[], Coroutine[t.Any, t.Any, t.Any]]:
    """Compile an operation into a coroutine function that returns its result once."""
    stmt = code.stmt if code.result is not None else f"_result = {code.stmt}"
    source = _ONCE_SOURCE.format(
        stmt=textwrap.indent(stmt, " " * 4), result=code.result or "_result"
    )
    once: Callable[[], Coroutine[t.Any, t.Any, t.Any]]
    once = _compile(source, "once", namespace)
    return once


def _run_inline(main: Callable[[], Coroutine[t.Any, t.Any, T]]) -> T:
    coroutine = main()
    try:
        coroutine.send(None)
    except StopIteration as stop:
        return t.cast(T, stop.value)
    coroutine.close()
    msg = "a sync case awaited something: give the case an event loop backend"
    raise RuntimeError(msg)


def run_on(backend: Backend, main: Callable[[], Coroutine[t.Any, t.Any, T]]) -> T:
    """Run ``main()`` to completion: by hand, or in one asyncio or trio run."""
    if backend == "sync":
        return _run_inline(main)
    if backend == "asyncio":
        return asyncio.run(main())
    return trio.run(main)


@contextmanager
def gc_disabled() -> Iterator[None]:
    """Keep the cyclic GC out of the rounds: it would land on whoever allocates."""
    was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


async def _calibrate(bench: Bench, round_ns: int) -> int:
    """Return how many operations make a round of about ``round_ns``."""
    number = 1
    while True:
        elapsed = await bench(number)
        if elapsed >= round_ns // 10 or number >= 10**7:
            return max(1, round(number * round_ns / max(elapsed, 1)))
        number *= 10


async def measure(benches: Mapping[str, Bench], settings: Settings) -> dict[str, Stats]:
    """Time every bench in rounds; return each one's ns per operation.

    The contenders take turns within each round, in an order rotated from round
    to round, so that a drift of the machine's speed (turbo, a noisy neighbour)
    spreads over all of them instead of landing on one.
    """
    numbers = {
        name: await _calibrate(b, settings.round_ns) for name, b in benches.items()
    }
    samples: dict[str, list[float]] = {name: [] for name in benches}
    names = list(benches)
    with gc_disabled():
        for round_index in range(settings.warmup + settings.rounds):
            shift = round_index % len(names)
            for name in names[shift:] + names[:shift]:
                elapsed = await benches[name](numbers[name])
                if round_index >= settings.warmup:
                    samples[name].append(elapsed / numbers[name])
    return {name: Stats.of(samples[name], numbers[name]) for name in names}
