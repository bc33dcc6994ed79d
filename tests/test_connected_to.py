"""Connected_to() undoes only what it did.

See the Semantics page, "Temporary connections".
"""

from __future__ import annotations

import pytest

from anysignal import Signal

from .helpers import Recorder


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


def test_connected_to_connects_for_the_block_only(rec: Recorder) -> None:
    sig = Signal()
    receiver = rec.sync("r")
    with sig.connected_to(receiver):
        sig.send()
    sig.send()
    assert rec.calls == ["r"]
    assert not sig.receivers


def test_connected_to_a_sender_filters_by_that_sender(rec: Recorder) -> None:
    sig = Signal()
    receiver = rec.sync("r")
    with sig.connected_to(receiver, sender="s"):
        sig.send("t")
        sig.send("s")
    assert rec.calls == ["r"]


def test_an_earlier_subscription_survives_the_block(rec: Recorder) -> None:
    sig = Signal()
    receiver = rec.sync("r")
    sig.connect(receiver, sender="s")
    with sig.connected_to(receiver, sender="s"):
        pass
    sig.send("s")
    assert rec.calls == ["r"]


def test_a_subscription_to_another_sender_survives_a_block_for_any(
    rec: Recorder,
) -> None:
    sig = Signal()
    receiver = rec.sync("r")
    sig.connect(receiver, sender="s")
    with sig.connected_to(receiver):
        sig.send("t")
    sig.send("t")
    sig.send("s")
    assert rec.calls == ["r", "r"]


def test_the_block_is_undone_when_it_raises(rec: Recorder) -> None:
    sig = Signal()
    receiver, kept = rec.sync("r"), rec.sync("kept")
    sig.connect(kept)
    with pytest.raises(ValueError, match="inside"), sig.connected_to(receiver):
        raise ValueError("inside")
    assert [r for r, _ in sig.send()] == [kept]


def test_connected_to_keeps_an_inline_receiver_alive_for_the_block() -> None:
    sig = Signal()
    seen: list[object] = []
    with sig.connected_to(seen.append):
        sig.send("s")
    assert seen == ["s"]


def test_an_earlier_subscription_keeps_its_priority(rec: Recorder) -> None:
    sig = Signal()
    first, urgent = rec.sync("first"), rec.sync("urgent")
    sig.connect(first)
    sig.connect(urgent, priority=10)
    with sig.connected_to(urgent):
        pass
    sig.send()
    assert rec.calls == ["urgent", "first"]
