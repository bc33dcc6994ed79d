"""Receivers run in connection order, everywhere.

See the Semantics page, "Order".
"""

from __future__ import annotations

import pytest

from anysignal import Signal

from .helpers import Recorder


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


def test_send_calls_receivers_in_connection_order(rec: Recorder) -> None:
    sig = Signal()
    receivers = [rec.sync(f"r{i}") for i in range(20)]
    for r in receivers:
        sig.connect(r)
    sig.send()
    assert rec.calls == [f"r{i}" for i in range(20)]


def test_results_are_pairs_in_the_order_receivers_ran(rec: Recorder) -> None:
    sig = Signal()
    a, b = rec.sync("a"), rec.sync("b")
    sig.connect(a)
    sig.connect(b)
    assert sig.send("s") == [(a, "a"), (b, "b")]


def test_any_and_sender_specific_receivers_interleave_by_connection(
    rec: Recorder,
) -> None:
    sig = Signal()
    sender = object()
    a, b, c, d = (rec.sync(n) for n in "abcd")
    sig.connect(a, sender=sender)
    sig.connect(b)
    sig.connect(c, sender=sender)
    sig.connect(d)
    sig.send(sender)
    assert rec.calls == ["a", "b", "c", "d"]


def test_a_sender_without_own_receivers_gets_the_any_receivers_only(
    rec: Recorder,
) -> None:
    sig = Signal()
    a, b = rec.sync("a"), rec.sync("b")
    sig.connect(a, sender="mine")
    sig.connect(b)
    sig.send("other")
    assert rec.calls == ["b"]


def test_receiver_connected_for_any_and_a_sender_runs_once_at_its_first_place(
    rec: Recorder,
) -> None:
    sig = Signal()
    a, b = rec.sync("a"), rec.sync("b")
    sig.connect(a, sender="s")
    sig.connect(b)
    sig.connect(a)
    sig.send("s")
    sig.send("t")
    assert rec.calls == ["a", "b", "b", "a"]


def test_connecting_again_keeps_the_place(rec: Recorder) -> None:
    sig = Signal()
    a, b = rec.sync("a"), rec.sync("b")
    sig.connect(a)
    sig.connect(b)
    sig.connect(a)
    sig.send()
    assert rec.calls == ["a", "b"]


def test_reconnecting_after_disconnect_goes_to_the_end(rec: Recorder) -> None:
    sig = Signal()
    a, b = rec.sync("a"), rec.sync("b")
    sig.connect(a)
    sig.connect(b)
    sig.disconnect(a)
    sig.connect(a)
    sig.send()
    assert rec.calls == ["b", "a"]


def test_receivers_for_lists_receivers_in_send_order(rec: Recorder) -> None:
    sig = Signal()
    a, b, c = rec.sync("a"), rec.sync("b"), rec.sync("c")
    sig.connect(a, sender="s")
    sig.connect(b)
    sig.connect(c, sender="s")
    assert list(sig.receivers_for("s")) == [a, b, c]
    assert list(sig.receivers_for("t")) == [b]


@pytest.mark.anyio
async def test_send_async_keeps_connection_order_across_sync_and_async(
    rec: Recorder,
) -> None:
    sig = Signal()
    receivers = [rec.async_("a1"), rec.sync("s1"), rec.async_("a2"), rec.sync("s2")]
    for i, r in enumerate(receivers):
        sig.connect(r, sender="s" if i % 2 else sig.ANY)
    results = await sig.send_async("s")
    assert rec.calls == ["a1", "s1", "a2", "s2"]
    assert [r for r, _ in results] == receivers


@pytest.mark.anyio
async def test_send_and_send_async_use_the_same_order(rec: Recorder) -> None:
    sig = Signal()
    names = ["c", "a", "b", "e", "d"]
    receivers = [rec.sync(name) for name in names]
    for i, receiver in enumerate(receivers):
        sig.connect(receiver, sender="s" if i % 2 else sig.ANY)
    sig.send("s")
    await sig.send_async("s")
    assert rec.calls == names + names
