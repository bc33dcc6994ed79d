"""The hand-over from sending threads to a relay's publishing thread.

A send must cost its caller as little as possible: it appends to a deque,
which takes no lock, and wakes the publishing thread only when that thread
sleeps. A thread that is busy publishing looks at the deque again before it
sleeps, so a burst of sends wakes it once, not once per event. Waking a
sleeping thread is about half of what a lone send costs (the operating
system's work, not Python's): the Performance page gives the numbers.
"""

from __future__ import annotations

import contextlib
import threading
import time
import typing as t
from collections import deque

T = t.TypeVar("T")

_LOOK_AGAIN = 1.0
"""The longest a consumer sleeps without looking at the deque: a wake-up lost
where no GIL orders the threads' reads and writes costs at most this wait."""


class Handover(t.Generic[T]):
    """A bounded queue with one consumer, which sleeps when it is empty.

    :param capacity: Items held before :meth:`put` refuses more; markers put
        with ``force`` (a flush, a close) are never refused.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._items: deque[T] = deque()
        # Released to wake the consumer: a lock, not an Event, because
        # releasing one costs a sender a single call, with no lock around it.
        self._wake = threading.Lock()
        self._wake.acquire()
        self._asleep = False
        # Set by the consumer when it takes items, for a sender that waits
        # for room in a full queue.
        self._room = threading.Event()

    def put(self, item: T, *, force: bool = False) -> bool:
        """Append ``item`` and wake the consumer if it sleeps; False if full.

        The capacity is checked without a lock: threads that put at once may
        exceed it by one item each, never more.
        """
        if len(self._items) >= self.capacity and not force:
            return False
        self._items.append(item)
        # Read after the append: a consumer about to sleep sets _asleep
        # before it looks at the deque a last time, so one of the two sees
        # the other, and no item waits for a consumer that sleeps on.
        if self._asleep or force:
            self._asleep = False
            self._wake_consumer()
        return True

    def put_within(self, item: T, timeout: float) -> bool:
        """Like :meth:`put`, but wait up to ``timeout`` for room in a full queue.

        Tries again each time the consumer makes room, until the timeout:
        another sender may take the room first, or clear the event first.
        """
        deadline = time.monotonic() + timeout
        while True:
            self._room.clear()
            if self.put(item):
                return True
            self._wake_consumer()
            left = deadline - time.monotonic()
            if left <= 0 or not self._room.wait(left):
                return self.put(item)

    def take(self, limit: int, timeout: float | None) -> list[T]:
        """Take up to ``limit`` items, oldest first; wait up to ``timeout`` for one.

        Only one thread may take: the consumer. It may get nothing before
        ``timeout`` ends: after a wake-up meant for an earlier sleep, or
        after :data:`_LOOK_AGAIN`.

        :param timeout: Seconds to wait when the queue is empty; None for as
            long as it takes.
        """
        if not self._items:
            self._asleep = True
            if not self._items:  # a last look, after saying it sleeps
                sleep = _LOOK_AGAIN if timeout is None else min(timeout, _LOOK_AGAIN)
                self._wake.acquire(timeout=sleep)
            self._asleep = False
        items = self._items
        taken = [items.popleft() for _ in range(min(limit, len(items)))]
        if taken:
            self._room.set()
        return taken

    def _wake_consumer(self) -> None:
        # A RuntimeError says another sender released it already: it will wake.
        with contextlib.suppress(RuntimeError):
            self._wake.release()
