"""Dispatch snapshots: who receives one sender's sends, in order.

A signal builds a :class:`Dispatch` on the first send by a sender after any
change of connections (one shared by every sender, while every receiver is
connected for ANY), and hands the same one to every send until the next
change, so that a send does no set unions, no sorting and no async detection.

A change of connections can also happen *during* a send: a receiver
disconnects another, or connects one. The rule is that a send calls only
receivers that are still connected by a connection older than the send. Rather
than have every send check for a change before each receiver (a cost paid per
receiver, change or not), the signal rechecks every snapshot it drops
(:meth:`Dispatch.recheck`): on a change, when its cache is full, and when a
sender dies. Each getter of the snapshot is replaced in place by a
:class:`Rechecked` one, which a send still walking the snapshot reaches for its
remaining receivers. A send pays for the check only for the receivers it has
left after such a drop; a change pays one small object per receiver of each
cached snapshot (sends far outnumber changes).
"""

from __future__ import annotations

import typing as t
from collections.abc import Callable, Hashable

if t.TYPE_CHECKING:
    from ._receivers import Receiver, ReceiverRecord

Getter: t.TypeAlias = Callable[[], "Receiver | None"]
"""Gives a receiver, or ``None`` once it is not to be called (dead, or gone)."""


class Dispatch:
    """The receivers of one sender's sends, in order, with how to call each.

    ``getters`` is a list only so that :meth:`recheck` can replace its items
    while sends iterate over it: a list iterator reads by index, so a send
    sees the new getter of every receiver it has not reached yet. Nothing else
    ever changes it.
    """

    __slots__ = (
        "all_async",
        "connections_made",
        "flags",
        "getters",
        "has_async",
        "records",
        "senders",
        "single",
        "single_async",
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
        """What gives each receiver (or ``None``), in order."""
        self.flags = tuple(record.is_async for record in records)
        """Whether each receiver is a coroutine receiver."""
        self.has_async = any(self.flags)
        self.all_async = all(self.flags)
        lone = self.getters[0] if len(records) == 1 else None
        self.single: Getter | None = None if self.has_async else lone
        """The getter of the only receiver, when it is a sync one, which
        :meth:`Signal.send` calls at once. :meth:`recheck` leaves it alone: a
        send that calls it has run no receiver yet, so no receiver of that send
        can have changed the connections. (A change by another thread can
        always come just before a call, checked or not.)"""
        self.single_async: Getter | None = lone if self.all_async else None
        """The same for the only receiver when it is a coroutine receiver,
        which :meth:`Signal.send_async` awaits at once."""

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
        for skey in self.senders:
            connections = self.by_sender.get(skey)
            number = None if connections is None else connections.get(key)
            if number is not None and number < self.connections_made:
                return self.record()
        return None
