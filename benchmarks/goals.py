"""The goals of issues 4 and 13, as data: what the hot-path work is judged on.

Each goal compares two medians of one run (or one median with a limit). They
are reported, never asserted: speed is judged from a full run, not in CI.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

from timing import Stats

Results: t.TypeAlias = dict[str, dict[str, Stats | None]]
"""Case id -> contender name -> result (``None``: n/a)."""
Ref: t.TypeAlias = tuple[str, str]
"""(case id, contender name)."""


@dataclass(frozen=True)
class Goal:
    case: str
    text: str
    numerator: Ref
    denominator: Ref | None
    """``None``: the numerator is compared with ``limit`` as is."""
    limit: float
    at_least: bool
    """Met when the value is >= ``limit`` (else: <= ``limit``)."""

    def value(self, results: Results) -> float | None:
        top = _median(results, self.numerator)
        if self.denominator is None or top is None:
            return top
        bottom = _median(results, self.denominator)
        return None if bottom is None else top / bottom

    def met(self, results: Results) -> bool | None:
        """Whether the goal is met; ``None`` when a result it needs is missing."""
        value = self.value(results)
        if value is None:
            return None
        return value >= self.limit if self.at_least else value <= self.limit


def _median(results: Results, ref: Ref) -> float | None:
    case, name = ref
    stats = results.get(case, {}).get(name)
    return None if stats is None else stats.median


def faster_than(case: str, peer: str, times: float) -> Goal:
    text = f"{times:g}x faster than {peer}" if times != 1 else f"faster than {peer}"
    return Goal(case, text, (case, peer), (case, "anysignal"), times, at_least=True)


def within(case: str, ref: Ref, times: float, what: str) -> Goal:
    return Goal(case, f"<= {times:g}x {what}", (case, "anysignal"), ref, times, False)


def _send_goals(case: str) -> list[Goal]:
    goals = [
        faster_than(case, "blinker", 4),
        faster_than(case, "psygnal", 1),
        faster_than(case, "django", 1),
    ]
    if case != "send-1":
        goals.append(within(case, (case, "floor_list"), 2, "loop+list floor"))
    return goals


def _async_goals(backend: str) -> list[Goal]:
    case = f"async-{backend}-10"
    return [
        within(case, (case, "floor"), 1.5, "await loop floor"),
        faster_than(case, "blinker", 4),
    ]


GOALS: tuple[Goal, ...] = (
    within("send-0", ("send-0", "floor"), 1.5, "empty method call"),
    *_send_goals("send-1"),
    *_send_goals("send-10"),
    *_send_goals("send-100"),
    within("send-filtered", ("send-2", "anysignal"), 1.5, "anysignal send to 2"),
    faster_than("send-filtered", "blinker", 3),
    *_async_goals("asyncio"),
    *_async_goals("trio"),
    faster_than("connect-function", "blinker", 1.5),
    faster_than("connect-method", "blinker", 1.5),
    within("many-senders", ("many-senders", "blinker"), 2, "blinker's time"),
    Goal("memory-connect", "<= 400 B", ("memory-connect", "anysignal"), None, 400,
         at_least=False),
)  # fmt: skip
