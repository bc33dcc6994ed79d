"""Scaling: one receiver connected for many senders costs time linear in their number.

A receiver connected for each of thousands of senders (one per model instance,
say) must not make each connection, disconnection or sender death cost time in
proportion to the connections already made: the whole would then grow with the
square of their number, and 40,000 senders would take minutes instead of a
fraction of a second.

Each test times one phase for N senders and for 4N senders. Linear work takes
about 4 times as long for 4N; quadratic work about 16 times. The limit of 6
leaves room for a noisy machine (caches, a neighbour's load) while still
failing clearly on quadratic work. Each size is timed a few times, the sizes
taking turns so that a drift of the machine's speed reaches both, and the best
time of each counts: noise only ever adds time.
"""

from __future__ import annotations

import gc
import time
import typing as t
from collections.abc import Callable

from anysignal import Signal

from .helpers import assert_no_bookkeeping

N = 2_000
"""The smaller number of senders: 4N take well under a second when linear."""

GROWTH = 4
MAX_RATIO = 6.0
"""At most this many times as long for GROWTH times the senders (linear: ~4)."""

REPETITIONS = 5

Phase: t.TypeAlias = Callable[[int], float]
"""Runs one phase for a number of senders; returns the seconds its timed part took."""


class Sender:
    """A sender that can be weakly referenced, as model instances usually can."""


def receiver(sender: object, **kwargs: object) -> None:
    pass


class Stopwatch:
    """Times a ``with`` block, with the garbage collector paused, into ``seconds``.

    A collection would land on whichever size happens to allocate past the
    collector's threshold, adding noise that has nothing to do with the signal.
    """

    seconds = 0.0

    def __enter__(self) -> Stopwatch:
        gc.collect()
        gc.disable()
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.seconds = time.perf_counter() - self._start
        gc.enable()


def connected(count: int) -> tuple[Signal, list[Sender]]:
    """Return a signal with ``receiver`` connected for each of ``count`` senders."""
    sig = Signal()
    senders = [Sender() for _ in range(count)]
    for sender in senders:
        sig.connect(receiver, sender=sender)
    return sig, senders


def connect_phase(count: int) -> float:
    sig = Signal()
    senders = [Sender() for _ in range(count)]
    with Stopwatch() as watch:
        for sender in senders:
            sig.connect(receiver, sender=sender)
    assert len(sig.receivers) == 1
    assert all(sig.has_receivers_for(sender) for sender in senders)
    return watch.seconds


def disconnect_phase(count: int) -> float:
    sig, senders = connected(count)
    with Stopwatch() as watch:
        for sender in senders:
            sig.disconnect(receiver, sender=sender)
    assert_no_bookkeeping(sig)
    return watch.seconds


def death_phase(count: int) -> float:
    sig, senders = connected(count)
    with Stopwatch() as watch:
        # The last references: each sender dies, and its clean-up runs, here.
        senders.clear()
    assert_no_bookkeeping(sig)
    return watch.seconds


def assert_linear(phase: Phase) -> None:
    """Assert that ``phase`` takes less than MAX_RATIO times as long for GROWTH*N."""
    small = large = float("inf")
    for _ in range(REPETITIONS):
        small = min(small, phase(N))
        large = min(large, phase(GROWTH * N))
    ratio = large / small
    assert ratio <= MAX_RATIO, (
        f"{phase.__name__}: {N:,} senders took {small * 1e3:.1f} ms, "
        f"{GROWTH * N:,} took {large * 1e3:.1f} ms: {ratio:.1f}x for {GROWTH}x "
        f"the senders (linear: about {GROWTH}x, quadratic: about {GROWTH**2}x)"
    )


def test_connecting_one_receiver_for_many_senders_takes_linear_time() -> None:
    assert_linear(connect_phase)


def test_disconnecting_one_receiver_from_many_senders_takes_linear_time() -> None:
    assert_linear(disconnect_phase)


def test_cleaning_up_after_many_dead_senders_takes_linear_time() -> None:
    assert_linear(death_phase)
