"""receiver_connected and receiver_disconnected, as in blinker."""

from __future__ import annotations

import gc
import typing as t

import pytest

from anysignal import ANY, Signal

from .helpers import assert_no_bookkeeping


def receiver(sender: object) -> None:
    pass


def test_receiver_connected_is_sent_with_connects_arguments() -> None:
    sig = Signal()
    seen = []

    @sig.receiver_connected.connect_via(sig)
    def on_connect(signal: object, **kwargs: object) -> None:
        seen.append((signal, kwargs))

    sig.connect(receiver, sender="s", weak=False)
    assert seen == [(sig, {"receiver": receiver, "sender": "s", "weak": False})]


def test_receiver_disconnected_is_sent_with_disconnects_arguments() -> None:
    sig = Signal()
    seen = []

    @sig.receiver_disconnected.connect_via(sig)
    def on_disconnect(signal: object, **kwargs: object) -> None:
        seen.append(kwargs)

    sig.connect(receiver)
    sig.disconnect(receiver)
    assert seen == [{"receiver": receiver, "sender": ANY}]


def test_a_meta_receiver_that_raises_undoes_the_connection() -> None:
    sig = Signal()

    @sig.receiver_connected.connect_via(sig)
    def refuse(signal: object, **kwargs: object) -> None:
        raise PermissionError(kwargs["receiver"])

    with pytest.raises(PermissionError):
        sig.connect(receiver)
    assert not sig.receivers


def test_a_refused_reconnection_keeps_the_existing_connection() -> None:
    sig = Signal()
    sig.connect(receiver)

    @sig.receiver_connected.connect_via(sig)
    def refuse(signal: object, **kwargs: object) -> None:
        raise PermissionError

    with pytest.raises(PermissionError):
        sig.connect(receiver)
    assert [r for r, _ in sig.send()] == [receiver]


def test_meta_signals_are_created_only_when_used() -> None:
    sig = Signal()
    sig.connect(receiver)
    sig.disconnect(receiver)
    assert "receiver_connected" not in vars(sig)
    assert "receiver_disconnected" not in vars(sig)


def test_a_refused_strong_connect_leaves_a_weak_receiver_weak() -> None:
    sig = Signal()

    def make_receiver() -> t.Callable[[object], None]:
        def weakly_held(sender: object) -> None:
            pass

        return weakly_held

    weakly_held = make_receiver()
    sig.connect(weakly_held)

    @sig.receiver_connected.connect_via(sig)
    def refuse(signal: object, **kwargs: object) -> None:
        raise PermissionError

    with pytest.raises(PermissionError):
        sig.connect(weakly_held, weak=False)
    sig.receiver_connected.disconnect(refuse)
    del weakly_held
    gc.collect()
    assert not sig.receivers


def refuse_connections(sig: Signal) -> t.Callable[..., None]:
    """Connect, and return, a meta-receiver that refuses every connection."""

    def refuse(signal: object, **kwargs: object) -> None:
        raise PermissionError(kwargs["receiver"])

    return sig.receiver_connected.connect(refuse, sender=sig, weak=False)


def first(sender: object) -> str:
    return "first"


def second(sender: object) -> str:
    return "second"


def test_a_refused_reconnection_keeps_the_previous_priority() -> None:
    sig = Signal()
    sig.connect(first)
    sig.connect(second)
    refuse_connections(sig)
    with pytest.raises(PermissionError):
        sig.connect(second, priority=5)
    assert [result for _, result in sig.send()] == ["first", "second"]


def test_a_refused_reconnection_keeps_a_non_zero_priority() -> None:
    sig = Signal()
    sig.connect(first, priority=3)
    sig.connect(second, priority=1)
    refuse_connections(sig)
    with pytest.raises(PermissionError):
        sig.connect(first, priority=0)
    assert [result for _, result in sig.send()] == ["first", "second"]


def test_a_refused_connect_for_a_new_sender_holds_nothing_of_it() -> None:
    sig = Signal()
    sender = Holder()
    refuse_connections(sig)
    with pytest.raises(PermissionError):
        sig.connect(first, sender=sender)
    assert_no_bookkeeping(sig)


class Holder:
    """A sender that can be weakly referenced."""
