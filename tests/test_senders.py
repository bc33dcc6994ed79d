"""How senders are matched, and what happens when they die.

See the Semantics page, sections "Senders" and "Dead senders".
"""

from __future__ import annotations

import gc

import pytest

from anysignal import ANY, Signal

from .helpers import Recorder, assert_no_bookkeeping


class Sender:
    """A weakly referenceable sender."""


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


@pytest.mark.parametrize(
    ("connected", "sent"),
    [("text", "".join(["te", "xt"])), (10**30, int("1" + "0" * 30))],
    ids=["str", "int"],
)
def test_str_and_int_senders_match_by_value(
    rec: Recorder, connected: object, sent: object
) -> None:
    sig = Signal()
    receiver = rec.sync("r")
    sig.connect(receiver, sender=connected)
    assert connected is not sent
    sig.send(sent)
    assert rec.calls == ["r"]


def test_other_senders_match_by_identity(rec: Recorder) -> None:
    sig = Signal()
    receiver = rec.sync("r")
    connected, equal = float("1.5"), float("1.5")
    sig.connect(receiver, sender=connected)
    sig.send(equal)
    assert rec.calls == []
    sig.send(connected)
    assert rec.calls == ["r"]


@pytest.mark.parametrize("sender", [None, 0, False, "", 0.0], ids=repr)
def test_falsy_senders_are_ordinary_senders(rec: Recorder, sender: object) -> None:
    sig = Signal()
    receiver = rec.sync("r")
    sig.connect(receiver, sender=sender)
    sig.send(object())
    assert rec.calls == []
    sig.send(sender)
    assert rec.calls == ["r"]


def test_zero_and_false_are_different_senders(rec: Recorder) -> None:
    sig = Signal()
    zero, false = rec.sync("zero"), rec.sync("false")
    sig.connect(zero, sender=0)
    sig.connect(false, sender=False)
    sig.send(0)
    sig.send(False)
    assert rec.calls == ["zero", "false"]


def test_an_int_sender_never_matches_an_object_with_that_id(rec: Recorder) -> None:
    sig = Signal()
    sender = Sender()
    receiver = rec.sync("r")
    sig.connect(receiver, sender=id(sender))
    sig.send(sender)
    assert rec.calls == []


def test_a_dead_sender_takes_its_subscriptions_with_it(rec: Recorder) -> None:
    sig = Signal()
    sender = Sender()
    receiver = rec.sync("r")
    sig.connect(receiver, sender=sender)
    sig.send(sender)
    del sender
    gc.collect()
    assert_no_bookkeeping(sig)


def test_a_new_sender_with_a_reused_id_inherits_nothing(rec: Recorder) -> None:
    sig = Signal()
    receiver = rec.sync("r")
    reused = 0
    for _ in range(200):
        old = Sender()
        old_id = id(old)
        sig.connect(receiver, sender=old)
        sig.send(old)  # caches a snapshot for this id
        del old
        new = Sender()
        reused += id(new) == old_id
        sig.send(new)
        del new
    assert rec.calls == ["r"] * 200
    assert reused  # CPython reuses the freed memory: the case did occur


def test_a_sender_that_cannot_be_weakly_referenced_is_held_strongly(
    rec: Recorder,
) -> None:
    sig = Signal()
    receiver = rec.sync("r")
    sender: object = object()
    sender_id = id(sender)
    sig.connect(receiver, sender=sender)
    del sender
    gc.collect()
    # The sender is kept alive by its subscription, so its id() stays taken.
    assert sender_id in sig._table.held
    assert all(id(object()) != sender_id for _ in range(1000))


def test_a_strongly_held_sender_is_released_when_its_last_receiver_leaves(
    rec: Recorder,
) -> None:
    sig = Signal()
    receiver = rec.sync("r")
    sender = {"unhashable": True}
    sig.connect(receiver, sender=sender)
    sig.send(sender)
    assert rec.calls == ["r"]
    sig.disconnect(receiver, sender=sender)
    assert_no_bookkeeping(sig)


def test_unhashable_senders_work(rec: Recorder) -> None:
    sig = Signal()
    receiver = rec.sync("r")
    sender: list[int] = []
    sig.connect(receiver, sender=sender)
    sig.send(sender)
    sig.send([])
    assert rec.calls == ["r"]


def test_sending_any_reaches_only_any_receivers(rec: Recorder) -> None:
    sig = Signal()
    everyone, specific = rec.sync("everyone"), rec.sync("specific")
    sig.connect(everyone)
    sig.connect(specific, sender="s")
    sig.send(ANY)
    assert rec.calls == ["everyone"]


def test_has_receivers_for(rec: Recorder) -> None:
    sig = Signal()
    assert not sig.has_receivers_for("s")
    receiver = rec.sync("r")
    sig.connect(receiver, sender="s")
    assert sig.has_receivers_for("s")
    assert not sig.has_receivers_for("t")
    sig.connect(receiver)
    assert sig.has_receivers_for("t")


def test_many_short_lived_senders_do_not_grow_the_cache(rec: Recorder) -> None:
    sig = Signal()
    receiver = rec.sync("r")
    sig.connect(receiver)
    for _ in range(5000):
        sig.send(Sender())
    assert len(sig._table.cache) <= 1024
    assert len(rec.calls) == 5000


def test_has_receivers_for_any_counts_only_any_receivers(rec: Recorder) -> None:
    sig = Signal()
    receiver = rec.sync("r")
    sig.connect(receiver, sender="s")
    assert not sig.has_receivers_for(ANY)
    assert list(sig.receivers_for(ANY)) == []
    sig.connect(receiver)
    assert sig.has_receivers_for(ANY)


def test_sends_follow_a_senders_own_receivers_as_they_come_and_go(
    rec: Recorder,
) -> None:
    sig = Signal()
    everyone, own = rec.sync("everyone"), rec.sync("own")
    sig.connect(everyone)
    sender = Sender()
    sig.send(sender)
    sig.connect(own, sender=sender)
    sig.send(sender)
    sig.send(Sender())
    sig.disconnect(own, sender=sender)
    sig.send(sender)
    assert rec.calls == ["everyone", "everyone", "own", "everyone", "everyone"]


def test_senders_take_no_cache_entry_while_every_receiver_is_for_any(
    rec: Recorder,
) -> None:
    sig = Signal()
    receiver = rec.sync("r")
    sig.connect(receiver)
    senders = [Sender() for _ in range(10)]
    for sender in senders:
        sig.send(sender)
    assert sig._table.cache == {}
    assert len(rec.calls) == 10


class Button:
    """A sender whose bound methods are senders too."""

    def clicked(self) -> None: ...

    def pressed(self) -> None: ...


def test_a_bound_method_sender_matches_a_fresh_fetch_of_it(rec: Recorder) -> None:
    sig = Signal()
    receiver = rec.sync("r")
    button = Button()
    sig.connect(receiver, sender=button.clicked)
    gc.collect()  # the bound method given to connect is long gone
    sig.send(button.clicked)
    assert rec.calls == ["r"]


def test_a_bound_method_sender_is_told_apart_by_instance_and_function(
    rec: Recorder,
) -> None:
    sig = Signal()
    receiver = rec.sync("r")
    button, other = Button(), Button()
    sig.connect(receiver, sender=button.clicked)
    sig.send(button.pressed)
    sig.send(other.clicked)
    sig.send(button)
    assert rec.calls == []


def test_a_bound_method_sender_ends_with_its_instance(rec: Recorder) -> None:
    sig = Signal()
    receiver = rec.sync("r")
    button = Button()
    sig.connect(receiver, sender=button.clicked)
    assert sig.has_receivers_for(button.clicked)
    del button
    gc.collect()
    assert_no_bookkeeping(sig)


def test_a_bound_method_sender_can_be_disconnected_by_a_fresh_fetch(
    rec: Recorder,
) -> None:
    sig = Signal()
    receiver = rec.sync("r")
    button = Button()
    sig.connect(receiver, sender=button.clicked)
    sig.disconnect(receiver, sender=button.clicked)
    assert_no_bookkeeping(sig)


def test_a_builtin_method_sender_matches_a_fresh_fetch_of_it(rec: Recorder) -> None:
    sig = Signal()
    receiver = rec.sync("r")
    log: list[object] = []
    sig.connect(receiver, sender=log.append)
    sig.send(log.append)
    sig.send(log.pop)
    sig.send([].append)
    assert rec.calls == ["r"]
