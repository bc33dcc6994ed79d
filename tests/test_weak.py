"""Receivers are held weakly by default, and the dead leave no trace.

See the Semantics page, "Receivers and weak references".
"""

from __future__ import annotations

import collections
import gc
import typing as t

import pytest

from anysignal import Signal

from .helpers import assert_no_bookkeeping


class Listener:
    def __init__(self) -> None:
        self.calls = 0

    def on_signal(self, sender: object, **kwargs: object) -> str:
        self.calls += 1
        return "method"


class SlottedCallable:
    """Its instances cannot be weakly referenced: no __weakref__ slot."""

    __slots__ = ()

    def __call__(self, sender: object, **kwargs: object) -> str:
        return "slotted"


def make_function() -> t.Callable[..., str]:
    def receiver(sender: object, **kwargs: object) -> str:
        return "function"

    return receiver


def test_a_collected_function_is_disconnected_and_leaves_no_bookkeeping() -> None:
    sig = Signal()
    receiver = make_function()
    sig.connect(receiver, sender="s")
    del receiver
    gc.collect()
    assert sig.send("s") == []
    assert not sig.receivers
    assert not sig.has_receivers_for("s")
    assert_no_bookkeeping(sig)


def test_a_bound_method_is_held_through_its_instance() -> None:
    sig = Signal()
    listener = Listener()
    sig.connect(listener.on_signal)
    gc.collect()  # the bound method object itself is long gone
    [(receiver, result)] = sig.send()
    assert receiver == listener.on_signal
    assert result == "method"
    assert listener.calls == 1


def test_a_bound_method_is_disconnected_when_its_instance_dies() -> None:
    sig = Signal()
    listener = Listener()
    sig.connect(listener.on_signal)
    del listener
    gc.collect()
    assert sig.send() == []
    assert not sig.receivers


def test_two_instances_methods_are_two_receivers() -> None:
    sig = Signal()
    first, second = Listener(), Listener()
    sig.connect(first.on_signal)
    sig.connect(second.on_signal)
    sig.send()
    assert (first.calls, second.calls) == (1, 1)
    sig.disconnect(first.on_signal)
    sig.send()
    assert (first.calls, second.calls) == (1, 2)


def test_weak_false_keeps_the_receiver_alive() -> None:
    sig = Signal()
    sig.connect(make_function(), weak=False)
    gc.collect()
    assert [result for _, result in sig.send()] == ["function"]


def test_connecting_strongly_then_weakly_stays_strong() -> None:
    sig = Signal()
    receiver = make_function()
    sig.connect(receiver, weak=False)
    sig.connect(receiver, weak=True)
    del receiver
    gc.collect()
    assert len(sig.send()) == 1


def test_connecting_weakly_then_strongly_becomes_strong_in_place() -> None:
    sig = Signal()
    first, second = make_function(), make_function()
    sig.connect(first)
    sig.connect(second, weak=False)
    sig.connect(first, weak=False)
    del first
    gc.collect()
    assert [receiver for receiver, _ in sig.send()][1] is second
    assert len(sig.receivers) == 2


def test_a_receiver_that_cannot_be_weak_is_refused_with_the_fix() -> None:
    sig = Signal()
    receiver = SlottedCallable()
    with pytest.raises(TypeError, match=r"weak=False") as info:
        sig.connect(receiver)
    assert "SlottedCallable" in str(info.value)
    assert not sig.receivers


def test_a_receiver_that_cannot_be_weak_connects_with_weak_false() -> None:
    sig = Signal()
    sig.connect(SlottedCallable(), weak=False)
    assert [result for _, result in sig.send("s")] == ["slotted"]


def test_a_receiver_collected_while_connected_to_many_senders_is_gone_from_all() -> (
    None
):
    sig = Signal()
    receiver = make_function()
    senders = [object() for _ in range(3)]
    for sender in senders:
        sig.connect(receiver, sender=sender)
    sig.connect(receiver)
    del receiver
    gc.collect()
    assert_no_bookkeeping(sig)
    assert all(sig.send(sender) == [] for sender in senders)


def test_a_dead_receiver_id_reused_by_a_new_receiver_is_a_fresh_connection() -> None:
    sig = Signal()
    for _ in range(50):
        receiver = make_function()
        sig.connect(receiver, sender="old")
        del receiver
        fresh = make_function()
        sig.connect(fresh, sender="new")
        assert sig.send("old") == []
        assert [r for r, _ in sig.send("new")] == [fresh]
        sig.disconnect(fresh)


@pytest.mark.parametrize(
    "make_receiver",
    [lambda: collections.deque().append, lambda: collections.deque().__len__],
    ids=["builtin method", "method-wrapper"],
)
def test_a_bound_method_of_a_builtin_type_is_refused_weakly(
    make_receiver: t.Callable[[], t.Callable[..., object]],
) -> None:
    sig = Signal()
    with pytest.raises(TypeError, match=r"built-in type.*weak=False"):
        sig.connect(make_receiver())
    assert not sig.receivers


def test_a_builtin_function_of_a_module_is_held_weakly() -> None:
    sig = Signal()
    sig.connect(len)
    assert sig.send("abc") == [(len, 3)]


# Each fetch of a built-in method makes a new object: the tests fetch twice.
fetches_of_a_builtin_method = pytest.mark.parametrize(
    "fetch",
    [lambda log: log.append, lambda log: log.__contains__],
    ids=["builtin method", "method-wrapper"],
)


@fetches_of_a_builtin_method
def test_a_builtin_method_fetched_twice_is_one_receiver(
    fetch: t.Callable[[collections.deque[object]], t.Callable[..., object]],
) -> None:
    sig = Signal()
    log: collections.deque[object] = collections.deque()
    sig.connect(fetch(log), weak=False)
    sig.connect(fetch(log), weak=False)
    assert len(sig.send("event")) == 1


@fetches_of_a_builtin_method
def test_a_builtin_method_is_disconnected_by_a_fresh_fetch(
    fetch: t.Callable[[collections.deque[object]], t.Callable[..., object]],
) -> None:
    sig = Signal()
    log: collections.deque[object] = collections.deque()
    sig.connect(fetch(log), weak=False)
    sig.disconnect(fetch(log))
    assert_no_bookkeeping(sig)


def test_builtin_methods_of_two_objects_are_two_receivers() -> None:
    sig = Signal()
    first: list[object] = []
    second: list[object] = []
    sig.connect(first.append, weak=False)
    sig.connect(second.append, weak=False)
    sig.connect(first.extend, weak=False)
    assert len(sig.send([1])) == 3
