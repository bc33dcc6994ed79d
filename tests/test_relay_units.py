"""The relay's parts that need no Redis: replay guard, throttled log, prefix."""

from __future__ import annotations

import logging

import pytest

from anysignal.relay import Origin
from anysignal.relay import _guard as guard_module
from anysignal.relay._guard import Guard
from anysignal.relay._logs import Throttled
from anysignal.relay._relay import _default_prefix
from anysignal.relay._wire import Envelope

MAX_AGE = 30.0


class Clock:
    """A clock that moves only when told to."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def event(seq: int, stamp: float, origin: str = "a") -> Envelope:
    return Envelope("x", Origin(1, "h", origin), seq, stamp, {})


def make_guard(clock: Clock, *, authenticated: bool = True) -> Guard:
    return Guard(MAX_AGE, authenticated, Throttled(clock=clock), clock, clock)


def test_an_event_stamped_within_max_age_either_way_is_admitted() -> None:
    clock = Clock()
    guard = make_guard(clock)
    assert guard.admit(event(1, clock.now - MAX_AGE))
    assert guard.admit(event(2, clock.now + MAX_AGE))  # a sender's clock ahead
    assert not guard.admit(event(3, clock.now + MAX_AGE + 1))
    assert not guard.admit(event(1, clock.now - MAX_AGE - 1, origin="b"))


def test_a_stale_event_after_a_known_one_counts_as_missed_with_its_gap() -> None:
    clock = Clock()
    guard = make_guard(clock)
    assert guard.admit(event(1, clock.now))
    assert not guard.admit(event(4, clock.now - MAX_AGE - 1))
    assert guard.missed == 3  # events 2 and 3, and 4 itself
    assert guard.admit(event(5, clock.now))
    assert guard.missed == 3


def test_a_replay_after_its_origin_is_forgotten_is_too_old_to_pass() -> None:
    clock = Clock()
    guard = make_guard(clock)
    first = event(1, clock.now + MAX_AGE)  # the most a clock ahead can stamp
    assert guard.admit(first)
    assert not guard.admit(first)
    clock.now += 2 * MAX_AGE + 0.001  # the origin is forgotten
    assert not guard.admit(first)
    assert guard.missed == 0


def test_memory_is_bounded_whatever_the_number_of_origins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(guard_module, "MAX_ORIGINS", 3)
    clock = Clock()
    guard = make_guard(clock)
    for number in range(10):
        assert guard.admit(event(1, clock.now, origin=str(number)))
    assert len(guard._seen) == 3
    assert not guard.admit(event(1, clock.now, origin="9"))


def test_without_authentication_a_lower_number_is_still_delivered() -> None:
    clock = Clock()
    guard = make_guard(clock, authenticated=False)
    assert guard.admit(event(10**15, clock.now))
    assert guard.admit(event(1, clock.now))
    assert guard.admit(event(1, clock.now))
    assert guard.missed == 0


def test_throttled_warnings_are_counted_and_reported_once_the_interval_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    log = Throttled(10.0, clock)
    caplog.set_level(logging.WARNING, "anysignal.relay")
    for number in range(5):
        log.emit("bad messages", "relay dropped message %d", number)
    log.report()  # too early: nothing yet
    clock.now += 10.0
    log.report()
    log.report()  # reported already
    log.emit("bad messages", "relay dropped message %d", 5)
    clock.now += 10.0
    log.emit("bad messages", "relay dropped message %d", 6)
    assert [r.getMessage() for r in caplog.records] == [
        "relay dropped message 0",
        "relay: 4 more: bad messages, in the last 10 s",
        "relay dropped message 6 (and 1 more: bad messages, in the last 10 s)",
    ]


@pytest.mark.parametrize(
    ("url", "prefix"),
    [
        ("redis://h:6379/3", "anysignal:3:"),
        ("redis://h:6379", "anysignal:0:"),
        ("rediss://:pw@h/2?db=5", "anysignal:5:"),
        ("unix:///run/redis.sock", "anysignal:0:"),
        ("unix:///run/redis.sock?db=4", "anysignal:4:"),
    ],
)
def test_the_default_prefix_names_the_database(url: str, prefix: str) -> None:
    assert _default_prefix(url) == prefix
