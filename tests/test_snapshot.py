"""Snapshots and their re-check after a change (anysignal._snapshot)."""

from __future__ import annotations

from anysignal import Signal
from anysignal._snapshot import Rechecked, Snapshot


def receiver(sender: object) -> None:
    pass


def snapshot(sig: Signal) -> Snapshot:
    sig.send(None)
    snap = sig._table.any_snapshot
    assert snap is not None
    return snap


def test_a_snapshot_starts_with_the_records_own_getters() -> None:
    sig = Signal()
    sig.connect(receiver)
    snap = snapshot(sig)
    assert [get() for get in snap.getters] == [receiver]
    assert not any(isinstance(get, Rechecked) for get in snap.getters)


def test_a_change_rechecks_the_snapshot_in_place() -> None:
    sig = Signal()
    sig.connect(receiver)
    snap = snapshot(sig)
    getters = snap.getters
    sig.connect(print, weak=False)
    assert snap.getters is getters
    assert all(isinstance(get, Rechecked) for get in getters)
    assert sig._table.any_snapshot is None


def test_an_iteration_under_way_reaches_the_rechecked_getters() -> None:
    sig = Signal()
    sig.connect(receiver)
    sig.connect(print, weak=False)
    snap = snapshot(sig)
    walk = iter(snap.getters)
    next(walk)
    sig.disconnect(print)
    assert [get() for get in walk] == [None]


def test_a_rechecked_getter_gives_the_receiver_while_it_stays_connected() -> None:
    sig = Signal()
    sig.connect(receiver)
    snap = snapshot(sig)
    sig.connect(print, weak=False)
    assert snap.getters[0]() is receiver


def test_a_rechecked_getter_refuses_a_connection_newer_than_the_snapshot() -> None:
    sig = Signal()
    sig.connect(receiver)
    snap = snapshot(sig)
    sig.disconnect(receiver)
    sig.connect(receiver)
    assert snap.getters[0]() is None


def test_a_sender_snapshot_counts_the_senders_own_connections() -> None:
    sig = Signal()
    sig.connect(receiver, sender="s")
    sig.send("s")
    snap = sig._table.cache["s"]
    sig.connect(print, weak=False)
    assert snap.getters[0]() is receiver
    sig.disconnect(receiver, sender="s")
    assert snap.getters[0]() is None
