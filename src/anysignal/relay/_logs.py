"""Rate-limited warnings: what a hostile peer or a long outage can log is bounded."""

from __future__ import annotations

import logging
import time
import typing as t

logger = logging.getLogger("anysignal.relay")

_Clock: t.TypeAlias = t.Callable[[], float]


class _Reason:
    """One reason's state: when it may log next, and what it held back since."""

    __slots__ = ("held", "next_at")

    def __init__(self) -> None:
        self.next_at = 0.0
        self.held = 0


class Throttled:
    """Logs at most one warning per reason and interval, and counts the rest.

    The first warning of a reason is logged at once; the ones that follow
    within ``interval`` seconds are only counted, and the count is logged with
    the next warning logged, or by :meth:`report` once the interval is over.
    A flood of 20,000 forged messages makes a few lines, not 20,000.

    Not thread-safe: each thread of the relay has its own.

    :param interval: Seconds between two lines of the same reason.
    :param clock: A monotonic clock, for tests.
    """

    def __init__(self, interval: float = 10.0, clock: _Clock = time.monotonic) -> None:
        self._interval = interval
        self._clock = clock
        self._reasons: dict[str, _Reason] = {}

    def emit(self, reason: str, message: str, *args: object) -> None:
        """Log ``message % args`` now, or count it if ``reason`` logged lately.

        :param reason: A short, fixed text: what the warnings held back share.
            Never a text from a message: the reasons must stay few.
        :param message: A :mod:`logging` format string; anything it quotes
            from outside must be shortened by the caller.
        :param args: Its arguments.
        """
        state = self._reasons.setdefault(reason, _Reason())
        now = self._clock()
        if now < state.next_at:
            state.held += 1
            return
        if state.held:
            message += " (and %d more: %s, in the last %.0f s)"
            args = (*args, state.held, reason, self._interval)
        logger.warning(message, *args)
        state.next_at = now + self._interval
        state.held = 0

    def report(self) -> None:
        """Log the count of each reason whose interval is over: call it when idle."""
        now = self._clock()
        for reason, state in self._reasons.items():
            if state.held and now >= state.next_at:
                logger.warning(
                    "relay: %d more: %s, in the last %.0f s",
                    state.held,
                    reason,
                    self._interval,
                )
                state.held = 0
                state.next_at = now + self._interval
