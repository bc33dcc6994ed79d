"""Priorities: higher first, then connection order, in every kind of send."""

from __future__ import annotations

import enum

import pytest

from anysignal import Signal

from .helpers import Recorder


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


def test_higher_priority_runs_first(rec: Recorder) -> None:
    sig = Signal()
    low, high, default = rec.sync("low"), rec.sync("high"), rec.sync("default")
    sig.connect(low, priority=-5)
    sig.connect(default)
    sig.connect(high, priority=10)
    sig.send()
    assert rec.calls == ["high", "default", "low"]


def test_equal_priorities_keep_connection_order(rec: Recorder) -> None:
    sig = Signal()
    receivers = [rec.sync(name) for name in "abcd"]
    for receiver in receivers:
        sig.connect(receiver, priority=1)
    sig.send()
    assert rec.calls == list("abcd")


def test_priorities_order_any_and_sender_receivers_together(rec: Recorder) -> None:
    sig = Signal()
    a, b, c = rec.sync("a"), rec.sync("b"), rec.sync("c")
    sig.connect(a)
    sig.connect(b, sender="s", priority=2)
    sig.connect(c, priority=1)
    sig.send("s")
    sig.send("t")
    assert rec.calls == ["b", "c", "a", "c", "a"]


def test_a_receiver_connected_twice_runs_at_its_best_place(rec: Recorder) -> None:
    sig = Signal()
    a, b = rec.sync("a"), rec.sync("b")
    sig.connect(a)
    sig.connect(b)
    sig.connect(b, sender="s", priority=1)
    sig.send("s")
    assert rec.calls == ["b", "a"]


def test_connecting_again_changes_the_priority(rec: Recorder) -> None:
    sig = Signal()
    a, b, c = rec.sync("a"), rec.sync("b"), rec.sync("c")
    for receiver in (a, b, c):
        sig.connect(receiver)
    sig.connect(c, priority=1)
    sig.send()
    sig.connect(c)
    sig.send()
    assert rec.calls == ["c", "a", "b", "a", "b", "c"]


def test_a_disconnected_receiver_forgets_its_priority(rec: Recorder) -> None:
    sig = Signal()
    a, b = rec.sync("a"), rec.sync("b")
    sig.connect(a, priority=1)
    sig.connect(b)
    sig.disconnect(a)
    sig.connect(a)
    sig.send()
    assert rec.calls == ["b", "a"]
    assert sig._table.priorities == {}


@pytest.mark.anyio
async def test_every_send_method_uses_the_priorities(rec: Recorder) -> None:
    sig = Signal()
    low, high = rec.async_("low"), rec.sync("high")
    sig.connect(low)
    sig.connect(high, priority=1)
    await sig.send_async()
    await sig.send_async_robust()
    assert rec.calls == ["high", "low"] * 2
    # Concurrent receivers may start in any order; results keep the order.
    results = await sig.send_concurrent()
    assert [r for r, _ in results] == [high, low]
    assert list(sig.receivers_for(None)) == [high, low]


def test_connect_via_takes_a_priority(rec: Recorder) -> None:
    sig = Signal()
    first = rec.sync("first")
    sig.connect(first)
    sig.connect_via("s", priority=3)(rec.sync("urgent"))
    sig.send("s")
    assert rec.calls == ["urgent", "first"]


def test_int_enum_priorities_work(rec: Recorder) -> None:
    class Priority(enum.IntEnum):
        LOW = -1
        HIGH = 1

    sig = Signal()
    low, high = rec.sync("low"), rec.sync("high")
    sig.connect(low, priority=Priority.LOW)
    sig.connect(high, priority=Priority.HIGH)
    sig.send()
    assert rec.calls == ["high", "low"]


@pytest.mark.parametrize("priority", [1.5, "1", None, True], ids=repr)
def test_a_priority_that_is_not_an_int_is_refused(
    rec: Recorder, priority: object
) -> None:
    sig = Signal()
    with pytest.raises(TypeError, match="priority must be an int"):
        sig.connect(rec.sync("r"), priority=priority)  # type: ignore[arg-type]
    assert not sig.receivers
