"""The relay's durable transport: one Redis stream per signal.

Publishers ``XADD`` each event to the stream ``prefix + signal.name``, trimmed
to a bounded retention; each listening process reads every relayed stream with
``XREAD`` from the last entry it delivered. A listener that lost its
connection, or whose Redis restarted with its data, resumes where it stopped:
it loses nothing that the retention still holds, and delivers nothing twice.
What the retention dropped before it was read is counted exactly, from the
stream's own counters (``XINFO STREAM``, Redis 7.0 or later).
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
import typing as t
from collections.abc import Callable, Iterator

from ._logs import logger
from ._redis import _BATCH, Connector, Deliver, Item, Listener, Publisher
from ._wire import Envelope, MalformedMessage, Payload, Wire, shorten

_FIELD = b"m"
"""The one field of each stream entry: the signed envelope, as pub/sub sends it."""

StreamId: t.TypeAlias = tuple[int, int]
"""A stream entry id, ``<milliseconds>-<sequence>``, as a comparable pair."""
_ZERO: StreamId = (0, 0)


@dataclasses.dataclass(frozen=True, slots=True)
class Streams:
    """Choose the Redis Streams transport for a :class:`~anysignal.relay.Relay`.

    Pass it as ``Relay(url, transport=Streams(...))``. Each relayed signal is
    then a Redis stream, ``prefix + signal.name``, that keeps its last events:
    a listener that lost its connection, or whose Redis restarted with its
    data, catches up on what it missed, and delivers each event once. See
    :doc:`/relay` for the guarantees and what the retention costs.

    :param maxlen: Keep about this many events per signal (``XADD MAXLEN ~``:
        Redis trims whole nodes of entries, so a stream may hold some more).
    :param retention: Or keep the events of the last this many seconds
        (``XADD MINID ~``), by the publisher's clock; then pass ``maxlen=None``.
    :param history: Whether a listener that starts delivers the events still
        retained first (a late joiner's replay); by default it starts at the
        newest event, as a pub/sub listener would.
    :raises ValueError: Neither or both of ``maxlen`` and ``retention`` are
        given, or one is not positive.
    """

    maxlen: int | None = 10_000
    retention: float | None = None
    history: bool = False

    def __post_init__(self) -> None:
        if (self.maxlen is None) == (self.retention is None):
            msg = (
                "Streams(maxlen=..., retention=...): pass exactly one, such as "
                "Streams(maxlen=10_000) or Streams(maxlen=None, retention=3600)"
            )
            raise ValueError(msg)
        maxlen: object = self.maxlen  # whatever the caller passed
        if maxlen is not None and (type(maxlen) is not int or maxlen < 1):
            msg = f"Streams(maxlen=...) must be a positive int, not {maxlen!r}"
            raise ValueError(msg)
        retention: object = self.retention
        if retention is not None and not (
            isinstance(retention, int | float) and retention > 0
        ):
            msg = (
                "Streams(retention=...) must be a positive number of seconds, "
                f"not {retention!r}"
            )
            raise ValueError(msg)

    def trim(self, now: float) -> dict[str, t.Any]:
        """Return the trimming options of ``XADD`` for an event added at ``now``."""
        if self.maxlen is not None:
            return {"maxlen": self.maxlen, "approximate": True}
        minid = int((now - (self.retention or 0.0)) * 1000)
        return {"minid": f"{max(minid, 0)}-0", "approximate": True}


def check_transport(transport: object) -> None:
    """Raise the error that names the fix, unless ``transport`` is None or Streams."""
    if transport is not None and not isinstance(transport, Streams):
        msg = (
            "Relay(transport=...) must be None for pub/sub, or Streams(), such "
            f"as transport=Streams(maxlen=10_000); not {transport!r}"
        )
        raise TypeError(msg)


def parse_id(raw: bytes | str) -> StreamId:
    """Return the entry id ``raw`` (``b"1700000000000-3"``) as a pair."""
    text = raw.decode() if isinstance(raw, bytes) else raw
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


def _text(raw: bytes | str) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


def format_id(entry: StreamId) -> str:
    """Return ``entry`` as Redis writes it."""
    return f"{entry[0]}-{entry[1]}"


class _Numbered(t.NamedTuple):
    channel: bytes
    payload: Payload
    tail: bytes
    seq: int


class StreamPublisher(Publisher):
    """Adds events to their streams from a queue, retrying until Redis has them.

    Unlike the pub/sub publisher, which drops events while Redis is
    unreachable (nobody would hear them), this one keeps them and adds them
    when Redis is back, in order: listeners catch up on them. Sends still
    never wait for Redis: it keeps at most ``max_pending`` events taken from
    the queue for the next attempt, the queue holds ``max_pending`` more,
    and further sends drop theirs, counted in ``dropped``.

    Each batch is added in one ``MULTI``/``EXEC`` transaction, so that a
    failed attempt added all of its events or none, and a retry does not add
    them twice (unless the connection died after Redis ran the transaction
    and before its reply arrived: the retried events carry the numbers they
    had, and listeners refuse them as replays). A retried event is stamped
    and signed anew, so that its timestamp stays close to the entry id that
    Redis gives it, which listeners check.

    :param streams: The retention of each stream.
    """

    def __init__(  # noqa: PLR0917 - Publisher's arguments, and the retention
        self,
        connector: Connector,
        wire: Wire,
        origin: tuple[bytes, Iterator[int]],
        max_pending: int,
        backoff: tuple[float, float],
        log_interval: float,
        streams: Streams,
    ) -> None:
        # Set before Publisher.__init__ starts the thread that reads it.
        self._streams = streams
        super().__init__(connector, wire, origin, max_pending, backoff, log_interval)

    def _run(self) -> None:
        client: t.Any = None
        unsent: list[_Numbered] = []  # numbered, not yet in Redis, oldest first
        flushes: list[threading.Event] = []
        closing = False
        while True:
            # While events wait for Redis, wake up for the next attempt.
            wait = max(0.0, self._retry_at - time.monotonic()) if unsent else None
            if not closing:
                closing = self._sort(self._queue.take(_BATCH, wait), unsent, flushes)
            if unsent and (closing or time.monotonic() >= self._retry_at):
                client = self._add(client, unsent)
                if client is not None:
                    unsent.clear()
                elif closing:
                    self._drop(len(unsent), "the relay closed while Redis was down")
                    unsent.clear()
            if not unsent:
                for done in flushes:
                    done.set()
                flushes.clear()
                if closing:
                    break
        if client is not None:
            client.close()

    def _sort(
        self,
        items: list[Item],
        unsent: list[_Numbered],
        flushes: list[threading.Event],
    ) -> bool:
        """Sort ``items``: events into ``unsent``, numbered; True if one asks to close.

        At most ``max_pending`` events wait in ``unsent``: past that, events
        taken from the queue are dropped, so that memory stays bounded while
        Redis is down, and a flush or close behind them is still seen.
        """
        if items:
            self._stalled = False  # room again: the next full queue may wait
        closing = False
        overflow = 0
        for item in items:
            if isinstance(item, threading.Event):
                flushes.append(item)
            elif item is None:
                closing = True
            elif len(unsent) >= self._queue.capacity:
                overflow += 1
            else:
                channel, payload, tail = item
                unsent.append(_Numbered(channel, payload, tail, next(self._numbers)))
        self._drop(overflow, f"Redis is unreachable, and {len(unsent)} events wait")
        return closing

    def _add(self, client: t.Any, batch: list[_Numbered]) -> t.Any:
        """Add ``batch`` in one transaction; return the client, or None on failure."""
        try:
            client = client or self._connector.connect()
            pipe = client.pipeline(transaction=True)
            now = time.time()
            trim = self._streams.trim(now)
            for channel, payload, tail, seq in batch:
                message = self._wire.message(
                    channel, payload, self._origin_part, seq, tail, now
                )
                pipe.xadd(channel, {_FIELD: message}, **trim)
            pipe.execute()
        # Any error, not only Redis's: this thread must outlive them all.
        except Exception as exc:
            delay = self._back_off(client)
            self._log.emit(
                "cannot add events",
                "relay cannot add %d event(s) to %s (%s); retrying in %.1f s",
                len(batch),
                self._connector.url,
                shorten(str(exc)),
                delay,
            )
            return None
        self._delay = self._backoff[0]
        return client


class _Position:
    """Where a listener stands in one stream.

    ``entry`` is the id of the last entry read, and ``count`` the number of
    entries ever added up to it, on the scale of ``XINFO STREAM``'s
    ``entries-added``: the two tell how many entries after it were trimmed.
    ``reset`` is true from a reset of the stream until its ids pass ``entry``.
    """

    __slots__ = ("count", "entry", "reset")

    def __init__(self, entry: StreamId, count: int) -> None:
        self.entry = entry
        self.count = count
        self.reset = False


class StreamListener(Listener):
    """Reads a relay's streams from where it stopped, and hands events on.

    :meth:`run` blocks: it is meant for a thread. It waits for new entries
    with a blocking ``XREAD`` from the last entry read in each stream (at
    most ``poll`` seconds, to check ``stop``), followed in the same round
    trip by ``XINFO STREAM``, whose counters prove that nothing after that
    entry was trimmed before the read. When they cannot (a listener that fell
    a whole retention behind), it reads again in a transaction, which tells
    exactly how many entries were trimmed unread.

    It shares the pub/sub :class:`Listener`'s arguments and hand-over, but
    has no channel pattern, and no liveness check: its blocking read ends
    every ``poll`` seconds, and a dead connection fails within the client's
    ``timeout``.

    :param connector: Makes the client.
    :param wire: Checks and decodes each message.
    :param keys: Returns the streams to read: one per relayed signal.
    :param history: Whether a stream first read starts at its oldest entry.
    :param shared: The other arguments of :class:`Listener`: ``own_id``,
        ``accept``, ``guard``, ``log``, ``backoff`` and ``poll``.
    """

    def __init__(
        self,
        connector: Connector,
        wire: Wire,
        *,
        keys: Callable[[], list[str]],
        history: bool,
        **shared: t.Any,
    ) -> None:
        super().__init__(connector, wire, pattern="", liveness=math.inf, **shared)
        self._keys = keys
        self._history = history
        # Kept across reconnects, and across stop and start: catching up
        # means reading on from here.
        self._positions: dict[str, _Position] = {}
        # subscribed, from Listener, is set while the listener has a
        # position in every stream it reads.

    def run(self, stop: threading.Event, deliver: Deliver) -> None:
        """Read events and hand them to ``deliver`` in batches, until ``stop``.

        :param stop: Set it to make this return.
        :param deliver: Called with each batch of accepted events, in order.
        """
        delay = self._backoff[0]
        while not stop.is_set():
            client = self._connector.connect()
            try:
                while not stop.is_set():
                    keys = self._keys()
                    self._place_new(client, keys)
                    if not self.subscribed.is_set():
                        self.subscribed.set()
                        self.tried.set()
                        delay = self._backoff[0]
                    if not keys:
                        stop.wait(self._poll)
                    elif not self._read_waiting(client, keys, deliver):
                        self._read(client, keys, deliver)
                    self._log.report()
            # Any error, as in Listener.run: a dead listener is a deaf worker.
            except Exception as exc:
                delay = self._wait_after_loss(
                    stop, exc, delay, ", to read on from the last event delivered"
                )
            finally:
                client.close()
        self.subscribed.clear()

    def _place_new(self, client: t.Any, keys: list[str]) -> None:
        """Give each stream read for the first time its starting position."""
        new = [key for key in keys if key not in self._positions]
        if not new:
            return
        pipe = client.pipeline(transaction=True)
        for key in new:
            pipe.xinfo_stream(key)
        for key, info in zip(new, pipe.execute(raise_on_error=False), strict=True):
            if isinstance(info, Exception):  # no such stream yet
                self._positions[key] = _Position(_ZERO, 0)
            elif self._history:
                # Before the oldest entry retained: the first read takes it.
                added = info["entries-added"] - info["length"]
                self._positions[key] = _Position(_ZERO, added)
            else:
                last = parse_id(info["last-generated-id"])
                self._positions[key] = _Position(last, info["entries-added"])

    def _read_waiting(self, client: t.Any, keys: list[str], deliver: Deliver) -> bool:
        """Wait up to ``poll`` for new entries, and deliver them if none was lost.

        One round trip: a blocking ``XREAD``, then ``XINFO STREAM`` of each
        stream, which Redis runs right after the read returns. Trimming
        removes the oldest entries first, and its count (``entries-added``
        minus ``length``) only grows: if it is still at most the count up to
        the position, nothing after the position was trimmed before the read;
        ``max-deleted-entry-id`` tells the same of ``XDEL``. Then the read is
        complete. Otherwise (a listener a whole retention behind) return
        False, delivering nothing: :meth:`_read` reads the same entries
        again, and counts what was trimmed.
        """
        pipe = client.pipeline(transaction=False)
        pipe.xread(
            {key: format_id(self._positions[key].entry) for key in keys},
            count=_BATCH,
            block=max(1, int(self._poll * 1000)),
        )
        for key in keys:
            pipe.xinfo_stream(key)
        reply, *infos = pipe.execute(raise_on_error=False)
        if isinstance(reply, Exception):
            raise reply
        info_of = dict(zip(keys, infos, strict=True))
        for raw_key, _ in reply or ():
            position = self._positions[_text(raw_key)]
            info = info_of[_text(raw_key)]
            if isinstance(info, Exception) or not (
                info["entries-added"] >= position.count
                and info["entries-added"] - info["length"] <= position.count
                and parse_id(info["max-deleted-entry-id"]) <= position.entry
                and parse_id(info["last-generated-id"]) >= position.entry
            ):
                return False
        self._deliver_read(reply, deliver)
        return True

    def _read(self, client: t.Any, keys: list[str], deliver: Deliver) -> None:
        """Read what is new in ``keys``, count what was trimmed, deliver the rest.

        One transaction, so that ``XINFO STREAM`` and ``XREAD`` describe the
        same instant: if the first entry retained comes after the position,
        every entry added after the position and not retained was trimmed.
        """
        pipe = client.pipeline(transaction=True)
        for key in keys:
            pipe.xinfo_stream(key)
        pipe.xread(
            {key: format_id(self._positions[key].entry) for key in keys}, count=_BATCH
        )
        *infos, reply = pipe.execute(raise_on_error=False)
        if isinstance(reply, Exception):
            raise reply
        for key, info in zip(keys, infos, strict=True):
            self._check(key, info)
        self._deliver_read(reply, deliver)

    def _deliver_read(self, reply: t.Any, deliver: Deliver) -> None:
        """Deliver the accepted events of an ``XREAD`` reply, moving on past all."""
        batch: list[Envelope] = []
        try:
            for raw_key, entries in reply or ():
                key = _text(raw_key)
                position = self._positions[key]
                for raw_id, fields in entries:
                    # Moved on before decoding: a bad entry is skipped, once.
                    position.entry = parse_id(raw_id)
                    position.count += 1
                    self._decode_entry(batch, key, position.entry, fields)
        finally:
            if batch:
                self._deliver(deliver, batch)

    def _check(self, key: str, info: object) -> None:
        """Count what the retention dropped before this listener read it."""
        position = self._positions[key]
        if isinstance(info, Exception):  # no such stream
            if position.count:  # it had entries: deleted, or lost by Redis
                self._reset(key, position, 0, 0)
            return
        assert isinstance(info, dict)
        added, length = info["entries-added"], info["length"]
        behind = parse_id(info["last-generated-id"]) < position.entry
        if added < position.count or (behind and not position.reset):
            self._reset(key, position, added, length)
            return
        position.reset = behind
        first = info.get("first-entry")
        if first is None or parse_id(first[0]) > position.entry:
            # Every entry retained comes after the position: the entries added
            # after it that are not retained were trimmed unread.
            trimmed = added - position.count - length
            if trimmed > 0:
                self._guard.missed += trimmed
                position.count += trimmed
                self._log.emit(
                    "events trimmed unread",
                    "relay missed %d event(s) of %s: the stream's retention dropped "
                    "them before this listener read them (an outage longer than the "
                    "retention?); %d missed in all",
                    trimmed,
                    shorten(key),
                    self._guard.missed,
                )

    def _reset(self, key: str, position: _Position, added: int, length: int) -> None:
        """Read on in a stream made again, from the same position.

        Its new entries have later ids (Redis makes them from its clock), and
        are read; an entry with an earlier id (a signed capture added again
        with its old id, say) is never read, so that deleting a stream cannot
        make a listener replay history.
        """
        logger.warning(
            "relay found %s made again (Redis restarted without persistence, or "
            "the stream was deleted): the events added after %s and lost with it "
            "cannot be counted; reading on from there",
            shorten(key),
            format_id(position.entry),
        )
        position.count = added - length
        position.reset = True

    def _decode_entry(
        self,
        batch: list[Envelope],
        key: str,
        entry: StreamId,
        fields: dict[bytes, bytes],
    ) -> None:
        data = fields.get(_FIELD)
        try:
            if data is None:
                msg = "a stream entry without its 'm' field"
                raise MalformedMessage(msg)
            event = self._wire.decode(key.encode(), data)
        except MalformedMessage as exc:
            self._log.emit(
                "malformed messages",
                "relay dropped entry %s of %r: %s",
                format_id(entry),
                shorten(key),
                exc,
            )
            return
        # Freshness is judged at the entry's time, which Redis chose when it
        # was added, not at the time it is read: an event read late, when
        # catching up, is as fresh as when it was added; a captured message
        # added again gets a new id, and is as stale as the capture.
        if (
            event.origin.id != self._own_id()
            and self._guard.admit(event, at=entry[0] / 1000, scope=key)
            and self._accept(key, event)
        ):
            batch.append(event)
