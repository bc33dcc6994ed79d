"""The connection table: who is connected to a signal, for which senders, how.

One :class:`ConnectionTable` per signal owns all of the signal's bookkeeping:
the receivers' records, each sender's connections in connection order, the
holding of senders, priorities, the queue of dead references, and the
snapshots that sends walk. The signal's lock guards it: every method here is
called with that lock held, except where a method says otherwise. Sends read
:attr:`~ConnectionTable.any_snapshot` and :attr:`~ConnectionTable.cache`
without the lock; a change never mutates a snapshot a send may hold (see
:mod:`anysignal._snapshot`).
"""

from __future__ import annotations

import typing as t
from collections.abc import Callable, Hashable, Iterable

from ._receivers import (
    ANY_ONLY,
    Receiver,
    ReceiverRecord,
    Senders,
    make_record,
    with_sender,
    without_senders,
)
from ._senders import ANY_KEY, SenderRef, hold_sender
from ._snapshot import Snapshot

MAX_CACHED_SENDERS = 1024
"""Snapshots kept per signal before the cache starts over.

Once some receivers are connected for particular senders, every sender takes
a cache entry, also those with no receiver of their own; short-lived senders
would grow it forever.
"""


Connected: t.TypeAlias = tuple[bool, "ReceiverRecord | None", int]
"""What one :meth:`ConnectionTable.connect` changed, enough to undo it: whether
a new subscription was made, the weak record a strong one replaced (if any),
and the subscription's priority before the call. (A plain tuple: a named one
adds a Python-level call to every connect.)"""


class ConnectionTable:
    """A signal's connections: receivers, senders, priorities and snapshots."""

    __slots__ = (
        "any_snapshot",
        "by_sender",
        "cache",
        "connections_made",
        "dead",
        "held",
        "priorities",
        "reaper",
        "receivers",
    )

    def __init__(self, reaper: Callable[[t.Any], None]) -> None:
        self.receivers: dict[int, ReceiverRecord] = {}
        """Every connected receiver's record, by receiver key."""
        # sender key -> {receiver key: connection number}; a dict keeps insertion
        # order, and connection numbers order receivers across ANY and a sender.
        # The ANY entry stays, even empty: most connections come and go there.
        self.by_sender: dict[Hashable, dict[int, int]] = {ANY_KEY: {}}
        self.held: dict[Hashable, object] = {}
        """What holds each identity-keyed sender: a SenderRef, or the sender
        itself when it cannot be weakly referenced (see ``hold_sender``)."""
        # (sender key, receiver key) -> priority, for non-zero priorities only:
        # most signals never use one and pay nothing for it.
        self.priorities: dict[tuple[Hashable, int], int] = {}
        self.cache: dict[Hashable, Snapshot] = {}
        # While every receiver is connected for ANY (most signals, always), one
        # snapshot serves every sender: a send needs no sender key, no lookup.
        self.any_snapshot: Snapshot | None = None
        self.connections_made = 0
        self.dead: list[SenderRef | ReceiverRecord] = []
        """References whose object died, waiting for the lock to be cleaned up."""
        self.reaper = reaper
        """The weakref callback of every record and SenderRef."""

    def is_empty(self) -> bool:
        """Whether nothing at all is left of any past connection."""
        return (
            not self.receivers
            and list(self.by_sender) == [ANY_KEY]
            and not self.by_sender[ANY_KEY]
            and not self.held
            and not self.priorities
            and not self.dead
        )

    def connect(  # noqa: PLR0917 - positional, as connect() is measured
        self,
        receiver: Receiver,
        receiver_key: int,
        sender: object,
        sender_key: Hashable,
        weak: bool,
        priority: int,
    ) -> Connected:
        """Connect ``receiver`` for ``sender``; the keys are theirs (see _identity)."""
        record = replaced = self.receivers.get(receiver_key)
        if record is None or (record.weak and not weak):
            # Made before anything changes: it is what can raise.
            new_record = make_record(receiver, receiver_key, weak, self.reaper)
            if record is not None:
                new_record.senders = record.senders
            record = self.receivers[receiver_key] = new_record
        else:
            replaced = None
        connections = self.by_sender.get(sender_key)
        if connections is None:
            connections = self._add_sender(sender_key, sender)
        added = receiver_key not in connections
        if added:
            connections[receiver_key] = self.connections_made
            self.connections_made += 1
            # Most receivers connect for ANY only: they share one tuple.
            record.senders = (
                ANY_ONLY
                if sender_key == ANY_KEY and not record.senders
                else with_sender(record.senders, sender_key)
            )
        if added or replaced is not None:
            self.changed()
        previous_priority = (
            self.set_priority(sender_key, receiver_key, priority)
            if priority or self.priorities
            else 0
        )
        return added, replaced, previous_priority

    def remove(self, record: ReceiverRecord, sender_keys: Senders) -> None:
        """Remove ``record``'s connections to the senders in ``sender_keys``.

        ``record.senders`` itself stands for all of them: disconnect from all.
        """
        for sender_key in sender_keys:
            connections = self.by_sender.get(sender_key)
            if connections is None or connections.pop(record.key, None) is None:
                continue
            if self.priorities:
                self.priorities.pop((sender_key, record.key), None)
            if not connections and sender_key != ANY_KEY:
                del self.by_sender[sender_key]
                self.held.pop(sender_key, None)
        record.senders = (
            ()
            if sender_keys is record.senders
            else without_senders(record.senders, sender_keys)
        )
        if not record.senders:
            del self.receivers[record.key]
        self.changed()

    def set_priority(
        self, sender_key: Hashable, receiver_key: int, priority: int
    ) -> int:
        """Set a subscription's priority; return the one it had."""
        place = (sender_key, receiver_key)
        if priority:
            previous = self.priorities.get(place, 0)
            self.priorities[place] = priority
        else:
            previous = self.priorities.pop(place, 0)
        if previous != priority:
            self.changed()
        return previous

    def restore_priority(
        self, sender_key: Hashable, receiver_key: int, priority: int
    ) -> None:
        """Give a subscription back its priority, if it still exists."""
        record = self.receivers.get(receiver_key)
        if record is not None and sender_key in record.senders:
            self.set_priority(sender_key, receiver_key, priority)

    def put_back(self, record: ReceiverRecord) -> None:
        """Make ``record`` current again, in place of the one that replaced it."""
        current = self.receivers.get(record.key)
        if current is not None:
            record.senders = current.senders
            self.receivers[record.key] = record
            self.changed()

    def note_dead(self, ref: SenderRef | ReceiverRecord) -> None:
        """Queue a dead reference; called without the lock, by the collector."""
        self.dead.append(ref)
        if isinstance(ref, SenderRef):
            # Must not outlive the sender: a new object may get its id(). A
            # receivers_for() iterator may still walk it: see drop_cache.
            snapshot = self.cache.pop(ref.key, None)
            if snapshot is not None:
                snapshot.recheck(self.by_sender)

    def collect_dead(self) -> None:
        """Remove what the dead references in the queue were connected by."""
        while self.dead:
            ref = self.dead.pop()
            if isinstance(ref, SenderRef):
                if self.held.get(ref.key) is ref:
                    for receiver_key in list(self.by_sender[ref.key]):
                        self.remove(self.receivers[receiver_key], (ref.key,))
            elif self.receivers.get(ref.key) is ref:
                self.remove(ref, ref.senders)

    def snapshot(self, sender_key: Hashable) -> Snapshot:
        """Return the snapshot for sender key ``sender_key``, building it if needed."""
        if len(self.by_sender) == 1:  # ANY's entry only: one snapshot for all
            if self.any_snapshot is None:
                self.any_snapshot = self._new_snapshot(ANY_KEY)
            return self.any_snapshot
        snapshot = self.cache.get(sender_key)
        if snapshot is None:
            if len(self.cache) >= MAX_CACHED_SENDERS:
                self.drop_cache()
            snapshot = self.cache[sender_key] = self._new_snapshot(sender_key)
        return snapshot

    def changed(self) -> None:
        """Stop handing out the snapshots taken before a change, and recheck them."""
        if self.cache:
            self.drop_cache()
        shared = self.any_snapshot
        if shared is not None:
            shared.recheck(self.by_sender)
            self.any_snapshot = None

    def drop_cache(self) -> None:
        """Empty the cache, rechecking every snapshot on its way out.

        A snapshot dropped unchecked could be in use by a send that a later
        change would then not reach. One popitem() at a time, because
        :meth:`note_dead` pops entries without the lock (and the garbage
        collector may run it in the middle of this loop): a loop over the dict
        itself would fail when it changes size.
        """
        cache = self.cache
        while cache:
            try:
                _, snapshot = cache.popitem()
            except KeyError:  # note_dead took the last one meanwhile
                break
            snapshot.recheck(self.by_sender)

    def _add_sender(self, sender_key: Hashable, sender: object) -> dict[int, int]:
        """Start the table of a sender's connections, and hold the sender."""
        holder = hold_sender(sender, sender_key, self.reaper)
        if holder is not None:
            self.held[sender_key] = holder
        connections: dict[int, int] = {}
        self.by_sender[sender_key] = connections
        return connections

    def _new_snapshot(self, sender_key: Hashable) -> Snapshot:
        senders = ANY_ONLY if sender_key == ANY_KEY else (ANY_KEY, sender_key)
        return Snapshot(self._records_for(sender_key), senders, self.connections_made)

    def _records_for(self, sender_key: Hashable) -> list[ReceiverRecord]:
        """Return the records a send by ``sender_key`` calls, in call order."""
        everyone = self.by_sender[ANY_KEY]
        own = self.by_sender.get(sender_key) if sender_key != ANY_KEY else None
        if not own and not self.priorities:
            return [self.receivers[receiver_key] for receiver_key in everyone]
        sender_keys = (ANY_KEY, sender_key) if own else ANY_ONLY
        return [
            self.receivers[receiver_key]
            for receiver_key, _ in self.call_order(sender_keys)
        ]

    def call_order(self, sender_keys: Iterable[Hashable]) -> list[tuple[int, int]]:
        """Return who a send connected for ``sender_keys`` calls, in call order.

        Each receiver key comes with the priority of the connection that places
        it. Sends use it (through :meth:`_records_for`, for ANY and a sender's
        key); :mod:`anysignal.introspection` uses it too, for the listings that
        must show sends' order.
        """
        # Higher priority first, then connection order. A receiver connected
        # for several of the keys runs once, at the best place.
        places: dict[int, tuple[int, int]] = {}
        for connected_for in sender_keys:
            for receiver_key, number in self.by_sender.get(connected_for, {}).items():
                place = (-self.priorities.get((connected_for, receiver_key), 0), number)
                if receiver_key not in places or place < places[receiver_key]:
                    places[receiver_key] = place
        return [
            (receiver_key, -places[receiver_key][0])
            for receiver_key in sorted(places, key=places.__getitem__)
        ]
