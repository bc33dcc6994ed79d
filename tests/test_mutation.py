"""Connecting and disconnecting during a send never breaks that send.

See the Semantics page, "Mutation during a send".
"""

from __future__ import annotations

import gc

import pytest

from anysignal import Signal

from .helpers import Recorder


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


def test_a_receiver_disconnected_during_a_send_is_not_called_afterwards(
    rec: Recorder,
) -> None:
    sig = Signal()
    victim = rec.sync("victim")

    def disconnector(sender: object) -> None:
        sig.disconnect(victim)

    sig.connect(disconnector)
    sig.connect(victim)
    assert [r for r, _ in sig.send()] == [disconnector]
    assert rec.calls == []


@pytest.mark.anyio
async def test_send_async_skips_a_receiver_disconnected_during_the_send(
    rec: Recorder,
) -> None:
    sig = Signal()
    victim = rec.async_("victim")

    async def disconnector(sender: object) -> None:
        sig.disconnect(victim)

    sig.connect(disconnector)
    sig.connect(victim)
    await sig.send_async()
    assert rec.calls == []


def test_a_receiver_disconnected_from_its_sender_only_is_skipped(
    rec: Recorder,
) -> None:
    sig = Signal()
    victim = rec.sync("victim")

    def disconnector(sender: object) -> None:
        sig.disconnect(victim, sender="s")

    sig.connect(disconnector)
    sig.connect(victim, sender="s")
    sig.connect(victim, sender="t")
    sig.send("s")
    assert rec.calls == []
    sig.send("t")
    assert rec.calls == ["victim"]


def test_a_receiver_collected_during_a_send_is_not_called(rec: Recorder) -> None:
    sig = Signal()

    class Victim:
        def receiver(self, sender: object) -> None:
            rec.calls.append("victim")

    holder = [Victim()]

    def killer(sender: object) -> None:
        holder.clear()
        gc.collect()

    sig.connect(killer)
    sig.connect(holder[0].receiver)
    sig.send()
    assert rec.calls == []
    assert len(sig.receivers) == 1


def test_a_receiver_connected_during_a_send_runs_from_the_next_send(
    rec: Recorder,
) -> None:
    sig = Signal()
    late = rec.sync("late")

    def connector(sender: object) -> None:
        sig.connect(late)

    sig.connect(connector)
    sig.send()
    assert rec.calls == []
    sig.send()
    assert rec.calls == ["late"]


def test_other_receivers_still_run_when_the_connections_change(
    rec: Recorder,
) -> None:
    sig = Signal()
    first, last = rec.sync("first"), rec.sync("last")
    extra = rec.sync("extra")

    def connector(sender: object) -> None:
        sig.connect(extra)

    sig.connect(first)
    sig.connect(connector)
    sig.connect(last)
    sig.send()
    assert rec.calls == ["first", "last"]


def test_a_receiver_can_send_the_same_signal(rec: Recorder) -> None:
    sig = Signal()

    def recursive(sender: int) -> int:
        rec.calls.append(f"depth {sender}")
        if sender < 3:
            sig.send(sender + 1)
        return sender

    sig.connect(recursive)
    sig.send(0)
    assert rec.calls == ["depth 0", "depth 1", "depth 2", "depth 3"]


def test_a_receiver_can_disconnect_itself(rec: Recorder) -> None:
    sig = Signal()

    def once(sender: object) -> None:
        rec.calls.append("once")
        sig.disconnect(once)

    sig.connect(once)
    sig.send()
    sig.send()
    assert rec.calls == ["once"]


def test_a_receiver_reconnected_during_a_send_waits_for_the_next_send(
    rec: Recorder,
) -> None:
    sig = Signal()
    victim = rec.sync("victim")

    def reconnector(sender: object) -> None:
        sig.disconnect(victim)
        sig.connect(victim)

    sig.connect(reconnector)
    sig.connect(victim)
    assert [r for r, _ in sig.send()] == [reconnector]
    sig.disconnect(reconnector)
    assert [r for r, _ in sig.send()] == [victim]


def test_a_receiver_made_strong_during_a_send_still_runs(rec: Recorder) -> None:
    sig = Signal()
    victim = rec.sync("victim")

    def upgrader(sender: object) -> None:
        sig.connect(victim, weak=False)

    sig.connect(upgrader)
    sig.connect(victim)
    assert rec.calls == []
    sig.send()
    assert rec.calls == ["victim"]


def test_a_disconnection_reaches_a_send_whose_snapshot_left_the_cache(
    rec: Recorder,
) -> None:
    # With a receiver of its own somewhere, each sender gets a cache entry:
    # sending from more senders than the cache holds evicts the first one's.
    sig = Signal()
    victim, bystander = rec.sync("victim"), rec.sync("bystander")
    others = [object() for _ in range(1100)]  # alive: no id() is reused
    sending = False

    def evict_then_disconnect(sender: object) -> None:
        nonlocal sending
        if not sending:
            sending = True
            for other in others:
                sig.send(other)
            sig.disconnect(victim)

    sig.connect(bystander, sender="someone else")
    sig.connect(evict_then_disconnect)
    sig.connect(victim)
    results = sig.send(object())
    assert [r for r, _ in results] == [evict_then_disconnect]
    assert rec.calls == ["victim"] * 1100


def test_a_disconnection_reaches_every_send_walking_the_snapshot(
    rec: Recorder,
) -> None:
    sig = Signal()
    victim = rec.sync("victim")
    depth = 0

    def resend_then_disconnect(sender: object) -> None:
        nonlocal depth
        depth += 1
        if depth == 1:
            sig.send()  # an inner send walks the same snapshot
        else:
            sig.disconnect(victim)

    sig.connect(resend_then_disconnect)
    sig.connect(victim)
    assert [r for r, _ in sig.send()] == [resend_then_disconnect]
    assert rec.calls == []


def test_receivers_for_skips_a_receiver_disconnected_while_iterating(
    rec: Recorder,
) -> None:
    sig = Signal()
    first, second = rec.sync("first"), rec.sync("second")
    sig.connect(first)
    sig.connect(second)
    receivers = sig.receivers_for(None)
    assert next(receivers) is first
    sig.disconnect(second)
    assert list(receivers) == []
