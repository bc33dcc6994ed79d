"""The dispatch snapshots and their re-check after a change (anysignal._dispatch)."""

from __future__ import annotations

from anysignal import Signal
from anysignal._dispatch import Dispatch, Rechecked


def receiver(sender: object) -> None:
    pass


def snapshot(sig: Signal) -> Dispatch:
    sig.send(None)
    dispatch = sig._any_dispatch
    assert dispatch is not None
    return dispatch


def test_a_snapshot_starts_with_the_records_own_getters() -> None:
    sig = Signal()
    sig.connect(receiver)
    dispatch = snapshot(sig)
    assert [get() for get in dispatch.getters] == [receiver]
    assert not any(isinstance(get, Rechecked) for get in dispatch.getters)


def test_a_change_rechecks_the_snapshot_in_place() -> None:
    sig = Signal()
    sig.connect(receiver)
    dispatch = snapshot(sig)
    getters = dispatch.getters
    sig.connect(print, weak=False)
    assert dispatch.getters is getters
    assert all(isinstance(get, Rechecked) for get in getters)
    assert sig._any_dispatch is None


def test_an_iteration_under_way_reaches_the_rechecked_getters() -> None:
    sig = Signal()
    sig.connect(receiver)
    sig.connect(print, weak=False)
    dispatch = snapshot(sig)
    walk = iter(dispatch.getters)
    next(walk)
    sig.disconnect(print)
    assert [get() for get in walk] == [None]


def test_a_rechecked_getter_gives_the_receiver_while_it_stays_connected() -> None:
    sig = Signal()
    sig.connect(receiver)
    dispatch = snapshot(sig)
    sig.connect(print, weak=False)
    assert dispatch.getters[0]() is receiver


def test_a_rechecked_getter_refuses_a_connection_newer_than_the_snapshot() -> None:
    sig = Signal()
    sig.connect(receiver)
    dispatch = snapshot(sig)
    sig.disconnect(receiver)
    sig.connect(receiver)
    assert dispatch.getters[0]() is None


def test_a_sender_snapshot_counts_the_senders_own_connections() -> None:
    sig = Signal()
    sig.connect(receiver, sender="s")
    sig.send("s")
    dispatch = sig._cache["s"]
    sig.connect(print, weak=False)
    assert dispatch.getters[0]() is receiver
    sig.disconnect(receiver, sender="s")
    assert dispatch.getters[0]() is None
