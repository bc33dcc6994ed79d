"""Thread safety: connect, disconnect and send from many threads at once.

The lock of a signal guards only its tables and the building of snapshots; it is
never held while a receiver runs. These tests run threads against one signal for
a bounded time (``stress_seconds``: short by default, long with ``--stress``)
and check every send's result as it comes. Every join has a timeout, so a
deadlock fails the test instead of hanging the run.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import threading
import time
import typing as t

import pytest

import anysignal._signal
from anysignal import Signal

from .helpers import assert_no_bookkeeping, run_threads

JOIN_SLACK = 60.0
"""Seconds a thread may overrun its time budget before it counts as stuck."""


class Sender:
    """A sender that can be weakly referenced."""


class Tagged:
    """A receiver that returns its tag, so results show who answered."""

    def __init__(self, tag: str) -> None:
        self.tag = tag

    def __call__(self, sender: object, **kwargs: object) -> str:
        tally = kwargs.get("tally")
        if isinstance(tally, list):
            tally.append(self.tag)
        return self.tag


def _until(seconds: float, cap: int) -> t.Iterator[int]:
    """Count up until ``seconds`` have passed or ``cap`` rounds are done."""
    deadline = time.monotonic() + seconds
    for round_ in range(cap):
        if time.monotonic() >= deadline:
            return
        yield round_


@pytest.mark.stress
def test_sends_see_consistent_receivers_while_threads_connect_and_disconnect(
    stress_seconds: float,
) -> None:
    sig = Signal()
    named = "a"
    obj = Sender()
    stable = [Tagged("stable-0"), Tagged("stable-a"), Tagged("stable-2")]
    # Connected first, held strongly: every send must call them, in this order,
    # before any receiver a churning thread connects later.
    sig.connect(stable[0], weak=False)
    sig.connect(stable[1], sender=named, weak=False)
    sig.connect(stable[2], weak=False)
    prefix = {
        named: ["stable-0", "stable-a", "stable-2"],
        "obj": ["stable-0", "stable-2"],
    }
    # Which tags may answer a send by each sender.
    allowed = {
        named: {"any", "for-a", "dying-any"},
        "obj": {"any", "for-obj", "dying-any"},
    }
    sends = {"count": 0}
    count_lock = threading.Lock()

    def churn() -> None:
        mine_any, mine_a, mine_obj = Tagged("any"), Tagged("for-a"), Tagged("for-obj")
        for round_ in _until(stress_seconds, 1_000_000):
            sig.connect(mine_any)
            sig.connect(mine_a, sender=named)
            sig.connect(mine_obj, sender=obj, weak=round_ % 2 == 0)
            sig.disconnect(mine_a, sender=named)
            sig.connect(mine_a, sender=named)
            sig.disconnect(mine_any)
            # Receivers and senders that die right away, reaped by weakref
            # callbacks while other threads may hold the lock.
            sig.connect(Tagged("dying-any"))
            doomed = Sender()
            sig.connect(Tagged("dying-sender"), sender=doomed)
            sig.connect(mine_any, sender=doomed)
            del doomed
            if round_ % 2:
                sig.disconnect(mine_obj, sender=obj)
            else:
                sig.disconnect(mine_obj)
            sig.disconnect(mine_a)
        sig.disconnect(mine_any)

    def send_and_check() -> None:
        for round_ in _until(stress_seconds, 1_000_000):
            sender: object = named if round_ % 2 else obj
            label = named if round_ % 2 else "obj"
            tally: list[str] = []
            results = sig.send(sender, tally=tally)
            tags = [result for _, result in results]
            # Every receiver returned its own tag, once, in the tally's order.
            assert tags == tally
            assert [r.tag for r, _ in results] == tags  # type: ignore[attr-defined]
            assert tags[: len(prefix[label])] == prefix[label], tags
            rest = tags[len(prefix[label]) :]
            assert set(rest) <= allowed[label], tags
            receivers = [id(r) for r, _ in results]
            assert len(receivers) == len(set(receivers)), tags
            listed = [r.tag for r in sig.receivers_for(sender)]  # type: ignore[attr-defined]
            assert listed[: len(prefix[label])] == prefix[label], listed
            with count_lock:
                sends["count"] += 1

    errors = run_threads(
        [churn, churn, send_and_check, send_and_check],
        timeout=stress_seconds + JOIN_SLACK,
    )
    assert errors == []
    assert sends["count"] > 0
    gc.collect()
    # Nothing was lost: the stable receivers are all that is left, in order.
    assert [r.tag for r, _ in sig.send(named)] == prefix[named]  # type: ignore[attr-defined]
    assert [r.tag for r, _ in sig.send(obj)] == prefix["obj"]  # type: ignore[attr-defined]
    assert len(sig.receivers) == 3
    for receiver in stable:
        sig.disconnect(receiver)
    assert_no_bookkeeping(sig)


@pytest.mark.stress
def test_two_signals_whose_receivers_send_each_other_never_deadlock(
    stress_seconds: float,
) -> None:
    ping, pong = Signal(), Signal()
    calls = itertools.count()

    def bounce(other: Signal) -> t.Callable[..., None]:
        def receiver(sender: object, depth: int) -> None:
            next(calls)
            # Touch the other signal's lock from inside a receiver, and send it.
            temp = Tagged("temp")
            other.connect(temp, weak=False)
            other.disconnect(temp)
            if depth:
                other.send(sender, depth=depth - 1)

        return receiver

    on_ping, on_pong = bounce(pong), bounce(ping)
    ping.connect(on_ping)
    pong.connect(on_pong)

    # The meta-signals are sent outside the lock too: make them re-enter.
    def announce(signal: object, **kwargs: object) -> None:
        next(calls)
        ping.has_receivers_for(None)
        list(pong.receivers_for(None))

    ping.receiver_connected.connect(announce)
    pong.receiver_disconnected.connect(announce)

    def run(first: Signal) -> t.Callable[[], None]:
        def target() -> None:
            for _ in _until(stress_seconds, 100_000):
                first.send("x", depth=6)

        return target

    errors = run_threads(
        [run(ping), run(pong), run(ping), run(pong)],
        timeout=stress_seconds + JOIN_SLACK,
    )
    assert errors == []
    assert next(calls) > 0
    assert [r for r, _ in ping.send("x", depth=0)] == [on_ping]


def test_many_threads_connecting_one_receiver_make_one_connection() -> None:
    sig = Signal()
    receiver = Tagged("once")
    senders: list[object] = ["s", Sender(), 7]

    def connect_all() -> None:
        for _ in range(200):
            for sender in senders:
                sig.connect(receiver, sender=sender)
            sig.connect(receiver)

    assert run_threads([connect_all] * 4, timeout=JOIN_SLACK) == []
    for sender in senders:
        assert sig.send(sender) == [(receiver, "once")]
    assert len(sig.receivers) == 1

    def disconnect_all() -> None:
        for _ in range(200):
            for sender in senders:
                sig.disconnect(receiver, sender=sender)
            sig.disconnect(receiver)

    assert run_threads([disconnect_all] * 4, timeout=JOIN_SLACK) == []
    assert_no_bookkeeping(sig)


def test_threads_connecting_different_receivers_lose_none_and_keep_each_order() -> None:
    sig = Signal()
    per_thread = 300
    receivers = [[Tagged(f"{n}-{i}") for i in range(per_thread)] for n in range(4)]

    def connect(mine: list[Tagged]) -> t.Callable[[], None]:
        def target() -> None:
            for receiver in mine:
                sig.connect(receiver)

        return target

    assert run_threads([connect(mine) for mine in receivers], JOIN_SLACK) == []
    called = [r for r, _ in sig.send()]
    assert len(called) == 4 * per_thread
    # Each thread's receivers run in the order that thread connected them.
    for mine in receivers:
        assert [r for r in called if r in mine] == mine


def test_muted_is_signal_wide_across_threads() -> None:
    sig = Signal()
    receiver = Tagged("r")
    sig.connect(receiver)
    muted, done = threading.Event(), threading.Event()
    seen: list[object] = []

    def mute() -> None:
        with sig.muted():
            muted.set()
            assert done.wait(JOIN_SLACK)

    def send() -> None:
        assert muted.wait(JOIN_SLACK)
        seen.append(sig.send())
        seen.append(sig.is_muted)
        done.set()

    assert run_threads([mute, send], JOIN_SLACK) == []
    assert seen == [[], True]
    assert not sig.is_muted
    assert sig.send() == [(receiver, "r")]


def test_a_receiver_disconnected_by_another_thread_mid_send_is_skipped() -> None:
    sig = Signal()
    entered, disconnected = threading.Event(), threading.Event()
    victim = Tagged("victim")

    def first(sender: object) -> str:
        entered.set()
        assert disconnected.wait(JOIN_SLACK)
        return "first"

    sig.connect(first)
    sig.connect(victim)
    results: list[object] = []

    def send() -> None:
        results.extend(sig.send())

    def disconnect() -> None:
        assert entered.wait(JOIN_SLACK)
        sig.disconnect(victim)
        disconnected.set()

    assert run_threads([send, disconnect], JOIN_SLACK) == []
    assert results == [(first, "first")]


def test_a_receiver_connected_by_another_thread_mid_send_runs_from_the_next() -> None:
    sig = Signal()
    entered, connected = threading.Event(), threading.Event()
    late = Tagged("late")

    def first(sender: object) -> str:
        entered.set()
        assert connected.wait(JOIN_SLACK)
        return "first"

    sig.connect(first)
    results: list[object] = []

    def send() -> None:
        results.extend(sig.send())

    def connect() -> None:
        assert entered.wait(JOIN_SLACK)
        sig.connect(late)
        connected.set()

    assert run_threads([send, connect], JOIN_SLACK) == []
    assert results == [(first, "first")]
    connected.set()
    assert sig.send() == [(first, "first"), (late, "late")]


def test_the_lock_is_free_while_a_receiver_runs() -> None:
    sig = Signal()
    states: list[bool] = []

    def look(_: object, **kwargs: object) -> None:
        states.append(sig._held())  # receivers run in the sending thread

    sig.connect(look)
    sig.receiver_connected.connect(look)
    sig.receiver_disconnected.connect(look)
    sig.send()
    other = Tagged("other")
    sig.connect(other)
    sig.disconnect(other)
    assert states == [False, False, False]


def test_concurrent_first_use_of_a_meta_signal_gives_every_thread_the_same_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # ``receiver_connected`` is made on first use. Two threads that both ask for
    # it first must get the same signal, or one thread's meta-receiver is
    # connected to a signal that is then dropped and never sent.
    both_building = threading.Barrier(2)

    class SlowSignal(Signal):
        def __init__(self, doc: str | None = None) -> None:
            # Hold both threads inside the construction, if both got there.
            with contextlib.suppress(threading.BrokenBarrierError):
                both_building.wait(timeout=0.5)
            super().__init__(doc)

    sig = Signal()
    monkeypatch.setattr(anysignal._signal, "Signal", SlowSignal)
    got: list[Signal] = []
    heard: list[str] = []

    def listen(name: str) -> t.Callable[[], None]:
        def target() -> None:
            meta = sig.receiver_connected
            got.append(meta)

            def audit(signal: object, **kwargs: object) -> None:
                heard.append(name)

            meta.connect(audit, weak=False)

        return target

    assert run_threads([listen("one"), listen("two")], JOIN_SLACK) == []
    monkeypatch.undo()
    assert got[0] is got[1], "two threads got two different receiver_connected"
    sig.connect(Tagged("r"), weak=False)
    assert sorted(heard) == ["one", "two"]
