"""What a relayed send publishes: its checks, its hand-over, and the packs.

A send hands scalars over unencoded and wakes the publishing thread only when
it sleeps, and the publisher packs consecutive events of a channel into one
message; none of that may change what is published, in what order, or what is
refused.
"""

from __future__ import annotations

import collections
import math
import threading
import time
import typing as t

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anysignal import Namespace
from anysignal.relay import JSONCodec, MalformedMessage, Origin, PayloadError
from anysignal.relay._handover import Handover
from anysignal.relay._wire import Wire, origin_part, signal_part

SIGNAL = Namespace().signal("x")
CHANNEL = b"prefix:x"
ORIGIN = origin_part(Origin(1, "host", "id"))
TAIL = signal_part("x")
MAX_BYTES = 400


def make_wire(max_bytes: int = MAX_BYTES) -> Wire:
    return Wire(JSONCodec(), b"a secret of sixteen bytes", max_bytes)


def published(wire: Wire, payload: bytes | dict[str, t.Any]) -> bytes:
    return wire.message(CHANNEL, payload, ORIGIN, 7, TAIL, 1_700_000_000.0)


def outcome(call: t.Callable[[], object]) -> object:
    """What ``call`` returns, or the message of the PayloadError it raises."""
    try:
        return call()
    except PayloadError as exc:
        return str(exc)


def encoded_now(wire: Wire, kwargs: dict[str, t.Any]) -> bytes:
    """The send-site encoding every event had before scalars were handed over."""
    kwargs_json = wire.encode_kwargs(SIGNAL, kwargs)
    wire.check_size(kwargs_json, ORIGIN, TAIL)
    return kwargs_json


scalars = st.one_of(
    st.text(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.booleans(),
    st.none(),
)


@given(st.dictionaries(st.text(), scalars, max_size=5))
def test_scalars_handed_over_are_published_and_refused_as_if_encoded_at_once(
    kwargs: dict[str, t.Any],
) -> None:
    wire = make_wire()
    handed_over = outcome(
        lambda: published(wire, wire.checked(SIGNAL, kwargs, ORIGIN, TAIL))
    )
    encoded = outcome(lambda: published(wire, encoded_now(wire, kwargs)))
    assert handed_over == encoded


@given(
    st.dictionaries(st.text().filter(lambda name: not name.startswith("_")), scalars)
)
def test_only_scalars_that_surely_fit_are_handed_over_unencoded(
    kwargs: dict[str, t.Any],
) -> None:
    wire = make_wire(max_bytes=1 << 20)
    payload = outcome(lambda: wire.checked(SIGNAL, kwargs, ORIGIN, TAIL))
    surely_encodable = all(
        not (type(value) is float and not math.isfinite(value))
        and not (type(value) is int and value.bit_length() > 63)
        for value in kwargs.values()
    )
    assert (type(payload) is dict) == surely_encodable


def test_a_list_changed_after_the_send_is_published_as_it_was_sent() -> None:
    wire = make_wire()
    items = [1, 2]
    payload = wire.checked(SIGNAL, {"items": items}, ORIGIN, TAIL)
    items.append(3)
    assert b'{"kwargs":{"items":[1,2]}' in published(wire, payload)


def test_an_event_that_could_be_too_large_is_measured_before_it_is_refused() -> None:
    wire = make_wire(max_bytes=400)
    # Its bound (12 bytes for each character) exceeds the limit; it does not.
    assert wire.checked(
        SIGNAL, {"text": "x" * 100}, ORIGIN, TAIL
    ) == b'{"text":"%s"}' % (b"x" * 100)
    with pytest.raises(PayloadError, match="max_message_bytes is 400"):
        wire.checked(SIGNAL, {"text": "x" * 300}, ORIGIN, TAIL)


def test_a_put_wakes_a_consumer_that_sleeps() -> None:
    handover: Handover[int] = Handover(10)
    taken: list[list[int]] = []
    consumer = threading.Thread(target=lambda: taken.append(handover.take(10, None)))
    consumer.start()
    time.sleep(0.05)  # the consumer is asleep by now
    handover.put(1)
    consumer.join(5)
    assert taken == [[1]]


class PutAfterLastLook(collections.deque[str]):
    """A consumer's deque that receives a put right after the consumer's last
    look at it before sleeping: the one interleaving that could lose a wake-up."""

    def __init__(self, handover: Handover[str]) -> None:
        super().__init__()
        self.handover = handover
        self.looks = 0

    def __bool__(self) -> bool:
        nonempty = len(self) > 0
        self.looks += 1
        if self.looks == 2:  # the first look, then the last
            self.handover.put("late")
        return nonempty


def test_a_put_right_after_the_consumers_last_look_still_wakes_it() -> None:
    handover: Handover[str] = Handover(10)
    handover._items = PutAfterLastLook(handover)
    started = time.monotonic()
    assert handover.take(10, timeout=5) == ["late"]
    assert time.monotonic() - started < 0.5  # woken, not timed out


def test_what_piled_up_is_taken_in_order_up_to_the_limit() -> None:
    handover: Handover[int] = Handover(10)
    for item in range(5):
        handover.put(item)
    assert handover.take(3, None) == [0, 1, 2]
    assert handover.take(3, None) == [3, 4]


def test_take_returns_nothing_when_nothing_came_within_the_timeout() -> None:
    handover: Handover[int] = Handover(10)
    assert handover.take(10, 0.01) == []


def test_a_full_handover_refuses_events_but_never_markers() -> None:
    handover: Handover[str] = Handover(2)
    assert handover.put("a")
    assert handover.put("b")
    assert not handover.put("c")
    assert handover.put("flush", force=True)
    assert handover.take(10, None) == ["a", "b", "flush"]


def test_a_put_that_waits_gets_the_room_the_consumer_makes() -> None:
    handover: Handover[int] = Handover(1)
    handover.put(0)
    consumer = threading.Timer(0.05, handover.take, (10, None))
    consumer.start()
    assert handover.put_within(1, timeout=5)
    consumer.join()
    assert handover.take(10, None) == [1]


def test_a_put_that_waits_tries_again_when_another_takes_the_room_first() -> None:
    handover: Handover[str] = Handover(1)
    handover.put("first")

    def take_and_fill() -> None:
        handover.take(10, None)
        handover.put("thief")  # takes the room before the waiting put can

    thief = threading.Timer(0.05, take_and_fill)
    later = threading.Timer(0.2, handover.take, (10, None))
    thief.start()
    later.start()
    assert handover.put_within("patient", timeout=5)
    thief.join()
    later.join()
    assert handover.take(10, None) == ["patient"]


def test_a_put_that_waits_in_vain_gives_up_after_its_timeout() -> None:
    handover: Handover[int] = Handover(1)
    handover.put(0)
    started = time.monotonic()
    assert not handover.put_within(1, timeout=0.05)
    assert time.monotonic() - started >= 0.05
    assert handover.take(10, None) == [0]


def envelopes_of(packs: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    return [(channel, part) for channel, pack in packs for part in pack.split(b"\n")]


def test_consecutive_events_of_a_channel_travel_in_one_message() -> None:
    wire = make_wire()
    messages = [(b"a", b'{"n":1}'), (b"a", b'{"n":2}'), (b"a", b'{"n":3}')]
    assert list(wire.packed(messages)) == [(b"a", b'{"n":1}\n{"n":2}\n{"n":3}')]


def test_packs_keep_the_order_of_events_across_channels() -> None:
    wire = make_wire()
    messages = [(b"a", b"1"), (b"a", b"2"), (b"b", b"3"), (b"a", b"4")]
    packs = list(wire.packed(messages))
    assert packs == [(b"a", b"1\n2"), (b"b", b"3"), (b"a", b"4")]
    assert envelopes_of(packs) == messages


def test_a_pack_never_exceeds_max_message_bytes() -> None:
    wire = make_wire(max_bytes=25)
    messages = [(b"a", b"x" * 10) for _ in range(5)] + [(b"a", b"y" * 25)]
    packs = list(wire.packed(messages))
    assert [len(pack) for _, pack in packs] == [21, 21, 10, 25]
    assert envelopes_of(packs) == messages


def test_a_pack_holds_at_most_64_kib_however_large_max_message_bytes() -> None:
    wire = make_wire(max_bytes=1 << 20)
    messages = [(b"a", b"x" * 999) for _ in range(200)]  # 1,000 bytes with "\n"
    packs = list(wire.packed(messages))
    # 65 envelopes and their newlines make 64,999 bytes: one more would not fit.
    assert [len(pack) for _, pack in packs] == [64_999, 64_999, 64_999, 4_999]
    assert envelopes_of(packs) == messages


def test_a_pack_holds_at_most_256_envelopes() -> None:
    wire = make_wire(max_bytes=1 << 20)
    packs = list(wire.packed([(b"a", b"x")] * 600))
    assert [pack.count(b"x") for _, pack in packs] == [256, 256, 88]


def test_a_message_of_more_than_256_envelopes_is_refused_whole() -> None:
    wire = make_wire()
    assert len(wire.unpacked(b"\n" * 255)) == 256
    with pytest.raises(MalformedMessage, match="a pack of more than 256 envelopes"):
        wire.unpacked(b"\n" * 256)


def test_a_pack_may_exceed_max_message_bytes_but_none_of_its_envelopes() -> None:
    wire = make_wire(max_bytes=300)
    envelope = published(wire, {"n": 1})
    pack = b"\n".join([envelope] * 10)  # as a relay with a larger limit packs them
    assert len(pack) > 300
    assert [wire.decode(CHANNEL, part).kwargs for part in wire.unpacked(pack)] == [
        {"n": 1}
    ] * 10
    with pytest.raises(MalformedMessage, match="exceeds max_message_bytes=300"):
        wire.decode(CHANNEL, published(wire, {"text": "x" * 200}))


def test_a_message_larger_than_any_pack_is_refused_whole() -> None:
    wire = make_wire(max_bytes=25)
    with pytest.raises(MalformedMessage, match="exceeds the 65536 of a pack"):
        wire.unpacked(b"x" * (64 * 1024 + 1))
