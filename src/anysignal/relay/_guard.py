"""Which incoming events to deliver: fresh ones, each once; and what was missed."""

from __future__ import annotations

import time
import typing as t
from collections import OrderedDict

from ._logs import Throttled
from ._wire import Envelope

MAX_ORIGINS = 65_536
"""Origins remembered at most. Only signed events add origins, so only relays
holding the secret can make this many; past it the longest silent is forgotten."""


class _Seen:
    """What is remembered of one origin: its last event, and until when."""

    __slots__ = ("forget_at", "seq")

    def __init__(self, seq: int, forget_at: float) -> None:
        self.seq = seq
        self.forget_at = forget_at


def _key(event: Envelope, scope: str) -> str:
    return f"{event.origin.id} {scope}" if scope else event.origin.id


class Guard:
    """Refuses stale and replayed events, and counts the events missed.

    Each event carries its origin's id, a number that its origin increments
    for each event it publishes, and its publishing time. An event is
    delivered if it is at most ``max_age`` seconds from this clock (either
    way, for clock skew) and numbered after the last one delivered from its
    origin. An origin is remembered for ``2 * max_age`` after its last event:
    a replay of anything it sent before is then too old to pass. Memory is
    bounded by the origins active in that window, whatever their total.

    Gaps in an origin's numbers are events published that this listener did
    not get (a disconnect, an output-buffer cut-off): they are counted in
    :attr:`missed` when the next event shows them, as is a stale event that
    is not a replay.

    Without authentication (``authenticated=False``) nothing proves who sent
    an event, so numbers are only used to count gaps: an event is never
    refused for its number, or forged numbers could silence real senders.

    With ``gaps=False`` (the Streams transport) this guard counts nothing:
    the listener counts what it did not deliver, trimmed unread or refused as
    stale, from the numbers in its streams' entries, and a publisher keeps
    each numbered event until Redis has it.

    :param max_age: Seconds an event may be from this clock, either way.
    :param authenticated: Whether events are signed, and so their numbers true.
    :param log: Where refusals and gaps are logged.
    :param wall: The wall clock the timestamps are compared with.
    :param clock: A monotonic clock, for forgetting origins.
    """

    def __init__(
        self,
        max_age: float,
        authenticated: bool,
        log: Throttled,
        wall: t.Callable[[], float] = time.time,
        clock: t.Callable[[], float] = time.monotonic,
        *,
        gaps: bool = True,
    ) -> None:
        self._max_age = max_age
        self._gaps = gaps
        self._authenticated = authenticated
        self._log = log
        self._wall = wall
        self._clock = clock
        self._seen: OrderedDict[str, _Seen] = OrderedDict()
        self.missed = 0
        """Events published by other relays that this one will never deliver."""

    def admit(self, event: Envelope, at: float | None = None, scope: str = "") -> bool:
        """Tell whether to deliver ``event``, recording it if so.

        :param event: A decoded event from another relay.
        :param at: When the event reached Redis, in seconds since the epoch,
            which its timestamp must be within ``max_age`` of; by default now.
            A stream entry's id tells it, however late the entry is read.
        :param scope: Where the event came from, if each place is read in
            order but not all of them together: numbers only increase within
            a scope. A Streams listener reads each stream in order, but two
            streams in any interleaving, so each stream is a scope.
        """
        now = self._clock()
        self._forget_silent(now)
        key = _key(event, scope)
        seen = self._seen.get(key)
        if seen is not None and self._is_replay(event, seen):
            self._log.emit(
                "replayed events",
                "relay refused a replayed event #%d from %s (last delivered: #%d)",
                event.seq,
                event.origin.id,
                seen.seq,
            )
            return False
        age = (self._wall() if at is None else at) - event.timestamp
        fresh = abs(age) <= self._max_age
        if seen is None:
            if not fresh:
                # Either a replay to a listener that never saw it, or an event
                # of a sender this listener never heard from: nothing to count.
                self._refuse_stale(event, age)
                return False
            self._remember(key, event, None, now)
            return True
        if event.seq > seen.seq:
            if self._gaps:
                # The event itself is lost too when it is stale.
                gap = event.seq - seen.seq - 1
                self._count_missed(event, gap + (0 if fresh else 1))
            self._remember(key, event, seen, now)
        if not fresh:
            self._refuse_stale(event, age)
        return fresh

    def replayed(self, event: Envelope, scope: str = "") -> bool:
        """Tell whether :meth:`admit` refuses ``event`` as a replay.

        :param event: A decoded event from another relay.
        :param scope: As for :meth:`admit`.
        """
        seen = self._seen.get(_key(event, scope))
        return seen is not None and self._is_replay(event, seen)

    def _is_replay(self, event: Envelope, seen: _Seen) -> bool:
        return self._authenticated and event.seq <= seen.seq

    def _remember(
        self, key: str, event: Envelope, seen: _Seen | None, now: float
    ) -> None:
        forget_at = now + 2 * self._max_age
        if seen is None:
            self._seen[key] = _Seen(event.seq, forget_at)
            if len(self._seen) > MAX_ORIGINS:
                self._seen.popitem(last=False)
            return
        seen.seq, seen.forget_at = event.seq, forget_at
        # Last: the dict stays in the order origins were last heard, so the
        # silent ones are forgotten from the front.
        self._seen.move_to_end(key)

    def _forget_silent(self, now: float) -> None:
        while self._seen:
            first = next(iter(self._seen.values()))
            if first.forget_at > now:
                return
            self._seen.popitem(last=False)

    def _count_missed(self, event: Envelope, count: int) -> None:
        if count <= 0:
            return
        self.missed += count
        self._log.emit(
            "missed events",
            "relay missed %d event(s) from %s (pid %d on %s); %d missed in all",
            count,
            event.origin.id,
            event.origin.pid,
            event.origin.host,
            self.missed,
        )

    def _refuse_stale(self, event: Envelope, age: float) -> None:
        self._log.emit(
            "stale events",
            "relay refused event #%d from %s: published %.1f s %s, beyond "
            "max_age=%s (a replay, a slow listener, or clocks that disagree)",
            event.seq,
            event.origin.id,
            abs(age),
            "ago" if age > 0 else "ahead of this clock",
            self._max_age,
        )
