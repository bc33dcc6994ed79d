"""Snapshots: who receives one sender's sends, in order, and how to call each.

The rule for which receivers a send calls lives here. A send calls, in order,
every receiver that its snapshot's getters give, and skips a getter that gives
``None``: that receiver died, or left during this send (see below). Every loop
in :mod:`anysignal._loops`, :meth:`Signal.receivers_for` and
:func:`~anysignal._concurrent.run_concurrently` apply it through
:meth:`Snapshot.live` or, in the loops, by walking :attr:`Snapshot.getters`.

A signal builds a snapshot on the first send by a sender after any change of
connections (one snapshot shared by every sender while every receiver is
connected for ANY) and hands the same one to every send until the next change,
so that a send does no set unions, no sorting and no async detection.

A change can also happen *during* a send: a receiver disconnects another, or
connects one. The rule is that a send calls only receivers still connected by a
connection older than the send. Rather than have every send check for a change
before each receiver, the signal rechecks every snapshot it drops
(:meth:`Snapshot.recheck`): on a change, when its cache is full, and when a
sender dies. Each getter is replaced in place by a :class:`Rechecked` one, which
a send still walking the snapshot reaches for the receivers it has left. (What
this costs and saves is on the Performance page.)
"""

from __future__ import annotations

import typing as t
from collections.abc import Callable, Hashable, Iterator

if t.TYPE_CHECKING:
    from ._receivers import Receiver, ReceiverRecord

Getter: t.TypeAlias = Callable[[], "Receiver | None"]
"""Gives a receiver, or ``None`` once it is not to be called (dead, or gone)."""


class Snapshot:
    """The receivers of one sender's sends, in call order, frozen at a moment.

    ``getters`` is a list only so that :meth:`recheck` can replace its items
    while sends iterate over it: a list iterator reads by index, so a send
    sees the new getter of every receiver it has not reached yet. Nothing else
    ever changes it.
    """

    __slots__ = (
        "all_async",
        "async_flags",
        "connections_made",
        "getters",
        "has_async",
        "lone_async",
        "lone_sync",
        "records",
        "senders",
    )

    def __init__(
        self,
        records: list[ReceiverRecord],
        senders: tuple[Hashable, ...],
        connections_made: int,
    ) -> None:
        self.records = tuple(records)
        self.senders = senders
        """The sender keys whose connections this snapshot is made of."""
        self.connections_made = connections_made
        """Connections numbered below this one existed when it was built."""
        self.getters: list[Getter] = [record.getter() for record in records]
        """What gives each receiver (or ``None``), in call order."""
        self.async_flags = tuple(record.is_async for record in records)
        """Whether each receiver is a coroutine receiver, in call order."""
        self.has_async = any(self.async_flags)
        self.all_async = all(self.async_flags)
        lone = self.getters[0] if len(records) == 1 else None
        self.lone_sync: Getter | None = None if self.has_async else lone
        """The getter of the only receiver, when it is a sync one.

        :meth:`recheck` leaves it alone: a send that calls it has run no
        receiver yet, so no receiver of that send can have changed anything.
        (A change by another thread can always come just before a call.)"""
        self.lone_async: Getter | None = lone if self.all_async else None
        """The same for the only receiver, when it is a coroutine receiver."""

    def live(self) -> Iterator[tuple[Receiver, bool]]:
        """Yield each receiver to call, with whether it is a coroutine receiver."""
        for get, is_async in zip(self.getters, self.async_flags, strict=True):
            receiver = get()
            if receiver is not None:
                yield receiver, is_async

    def recheck(self, by_sender: dict[Hashable, dict[int, int]]) -> None:
        """Make sends still walking this snapshot check each receiver first.

        Called whenever the signal drops the snapshot (see the module's
        docstring), so that no snapshot a send may still walk escapes a later
        change. Calling it again changes nothing. ``by_sender`` is the
        signal's own table of connections, read at each check.
        """
        getters = self.getters
        for index, record in enumerate(self.records):
            getters[index] = Rechecked(
                record, by_sender, self.senders, self.connections_made
            )


class Rechecked:
    """A getter that gives its receiver only while it is still connected.

    Still connected means: for one of the snapshot's sender keys, by a
    connection numbered below the snapshot's ``connections_made``. So a
    receiver disconnected during a send is not called in it, nor one
    disconnected and connected again (its new connection is too recent).
    """

    __slots__ = ("by_sender", "connections_made", "record", "senders")

    def __init__(
        self,
        record: ReceiverRecord,
        by_sender: dict[Hashable, dict[int, int]],
        senders: tuple[Hashable, ...],
        connections_made: int,
    ) -> None:
        self.record = record
        self.by_sender = by_sender
        self.senders = senders
        self.connections_made = connections_made

    def __call__(self) -> Receiver | None:
        key = self.record.key
        for sender_key in self.senders:
            connections = self.by_sender.get(sender_key)
            number = None if connections is None else connections.get(key)
            if number is not None and number < self.connections_made:
                return self.record()
        return None
