"""The relay's durable transport: one Redis stream per signal.

Publishers add events to the stream ``prefix + signal.name``, trimmed to a
bounded retention; each listening process reads every relayed stream with
``XREAD`` from the last entry it delivered. A listener that lost its
connection, or whose Redis restarted with its data, resumes where it stopped:
it loses nothing that the retention still holds, and delivers nothing twice.

An entry holds a pack of events, as a pub/sub message does, and the number of
events added to its stream up to it, which a small Lua script writes inside
Redis (:data:`_ADD`): a gap between two entries' numbers is exactly what the
retention dropped before the listener read it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import threading
import time
import typing as t
from collections.abc import Callable, Iterator

from ._line import Command, Line, ok
from ._redis import _BATCH, Connector, Deliver, Item, Listener, Publisher
from ._wire import Envelope, MalformedMessage, Payload, Wire, shorten

_FIELD = b"m"
"""The field of each stream entry that holds its pack of signed envelopes."""
_COUNT = b"n"
"""The field that holds the number of events added to the stream up to the entry."""

INDEX_SUFFIX = "\x00"
"""A stream's index is the key of the stream followed by this (NUL, which no
relayed signal's name may hold): a list of ``"<n> <entry id>"``, oldest first."""

_ADD = """
-- Add packs of events to their streams, numbering each entry by its events.
-- KEYS: per pack, its stream and the stream's index. ARGV: "maxlen" and the
-- events to keep, or "minid" and the oldest entry id to keep; then, per pack,
-- the pack and its count of events. Returns, per pack not added, its position
-- and Redis's error (a key of another type, an id past the last possible);
-- fails with any other error, which a retry may mend.
--
-- An entry's field n is the count of events added to its stream up to it;
-- Redis runs the script whole, so no other write comes in between. The index
-- lists each entry's n and id: reading an entry instead would copy its pack.
local function parse(line) -- "<n> <id>", or nil for a line not the script's
  local text, id = string.match(line or "", "^(%d+) (%d+%-%d+)$")
  local n = tonumber(text)
  if n and n < 2^53 then return n, id end
end
local function before(id, other) -- whether entry id `id` comes before `other`
  local ms, seq = string.match(id, "^(%d+)%-(%d+)$")
  local other_ms, other_seq = string.match(other, "^(%d+)%-(%d+)$")
  ms, other_ms = tonumber(ms), tonumber(other_ms)
  return ms < other_ms or (ms == other_ms and tonumber(seq) < tonumber(other_seq))
end
local function permanent(err) -- refusals that no retry can mend
  return string.find(err, "WRONGTYPE", 1, true)
    or string.find(err, "top item", 1, true)
    or string.find(err, "last possible ID", 1, true)
end
local trim, limit = ARGV[1], tonumber(ARGV[2])
local refused = {}
local deleted = 0 -- at most 1024 entries per run: Redis does nothing else meanwhile
for i = 1, #KEYS / 2 do
  local key, index = KEYS[2 * i - 1], KEYS[2 * i]
  local pack, events = ARGV[2 * i + 1], tonumber(ARGV[2 * i + 2])
  -- pcall: a key of another type costs this pack alone.
  local tail = redis.pcall("LINDEX", index, -1)
  local count, n, id
  if type(tail) == "table" then
    id = {err = "its index: " .. tail.err}
  else
    count = events + (parse(tail) or 0)
    n = string.format("%d", count)
    -- MAXLEN ~ counts entries, each of one event at least: it never trims
    -- one of the last `limit` events.
    id = redis.pcall("XADD", key, trim == "minid" and "MINID" or "MAXLEN", "~",
                     ARGV[2], "*", "m", pack, "n", n)
  end
  if type(id) == "table" then
    -- Anything else (out of memory, a read-only replica) passes: the whole
    -- batch is tried again, and Redis checks those before the first write.
    if not permanent(id.err) then return redis.error_reply(id.err) end
    table.insert(refused, i)
    table.insert(refused, id.err)
  else
    redis.call("RPUSH", index, n .. " " .. id)
    -- Delete the index's oldest lines that the retention let go, and with
    -- maxlen their entries: never the newest, whose n is count. A line
    -- numbered past it is none of the script's.
    while deleted < 1024 do
      local oldest_n, oldest_id = parse(redis.call("LINDEX", index, 0))
      if trim == "minid" then
        if oldest_id and not before(oldest_id, ARGV[2]) then break end
      elseif oldest_n and oldest_n > count - limit and oldest_n <= count then
        break
      elseif oldest_n and oldest_n <= count then
        redis.call("XDEL", key, oldest_id)
      end
      redis.call("LPOP", index)
      deleted = deleted + 1
    end
    -- Entries older than the index's oldest are in no index (it was lost,
    -- or they were added otherwise): trimmed here, or kept for ever.
    if trim ~= "minid" and redis.call("XLEN", key) > redis.call("LLEN", index) then
      local _, oldest_id = parse(redis.call("LINDEX", index, 0))
      if oldest_id then
        redis.call("XTRIM", key, "MINID", "~", oldest_id, "LIMIT", 1024)
      end
    end
  end
end
return refused
"""
"""Adds a publisher's batch in one script, which Redis runs whole."""
_ADD_SHA = hashlib.sha1(_ADD.encode(), usedforsecurity=False).hexdigest()
"""The name of :data:`_ADD` in Redis's script cache."""

StreamId: t.TypeAlias = tuple[int, int]
"""A stream entry id, ``<milliseconds>-<sequence>``, as a comparable pair."""
_ZERO: StreamId = (0, 0)
_LAST_SEQUENCE = 2**64 - 1
"""The largest sequence number of an entry id: ``(ms, _LAST_SEQUENCE)`` is the
last id of a millisecond."""


@dataclasses.dataclass(frozen=True, slots=True)
class Streams:
    """Choose the Redis Streams transport for a :class:`~anysignal.relay.Relay`.

    Pass it as ``Relay(url, transport=Streams(...))``. Each relayed signal is
    then a Redis stream, ``prefix + signal.name``, that keeps its last events:
    a listener that lost its connection, or whose Redis restarted with its
    data, catches up on what it missed, and delivers each event once. See
    :doc:`/relay` for the guarantees and what the retention costs.

    :param maxlen: Keep about this many events per signal: an entry, which
        holds a pack of up to 256 events, is deleted once all its events are
        older than the last ``maxlen``, so a stream may hold some more.
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
        if maxlen is not None and (type(maxlen) is not int or not 0 < maxlen < 2**63):
            msg = f"Streams(maxlen=...) must be a positive int, not {maxlen!r}"
            raise ValueError(msg)
        retention: object = self.retention
        if retention is not None and not (
            isinstance(retention, int | float)
            and not isinstance(retention, bool)
            and 0 < retention < math.inf
        ):
            msg = (
                "Streams(retention=...) must be a finite, positive number of "
                f"seconds, not {retention!r}"
            )
            raise ValueError(msg)

    def trim(self, now: float) -> tuple[str, int | str]:
        """Return how the script trims a stream an event is added to at ``now``."""
        if self.maxlen is not None:
            return "maxlen", self.maxlen
        minid = int((now - (self.retention or 0.0)) * 1000)
        return "minid", f"{max(minid, 0)}-0"


def check_transport(transport: object) -> None:
    """Raise the error that names the fix, unless ``transport`` is None or Streams."""
    if transport is not None and not isinstance(transport, Streams):
        msg = (
            "Relay(transport=...) must be None for pub/sub, or Streams(), such "
            f"as transport=Streams(maxlen=10_000); not {transport!r}"
        )
        raise TypeError(msg)


def check_name(name: str) -> None:
    """Raise the error that names the fix if a stream cannot carry ``name``."""
    if INDEX_SUFFIX in name:
        msg = (
            f"Relay.add(*signals): cannot relay the signal {name!r} on Streams: "
            "its name holds a NUL character, which the relay keeps for its "
            "streams' indexes; rename the signal"
        )
        raise ValueError(msg)


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

    Each batch is added by one run of the script :data:`_ADD`, consecutive
    events of a stream packed into one entry, so that a failed attempt added
    all of its events or none, and a retry does not add them twice (unless
    the connection died after Redis ran the script and before its reply
    arrived: the retried events carry the numbers they had, and listeners
    refuse them as replays). A retried event is stamped and signed anew, so
    that its timestamp stays close to the entry id that Redis gives it, which
    listeners check.

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
        line: Line | None = None
        unsent: list[_Numbered] = []  # numbered, not yet in Redis, oldest first
        flushes: list[threading.Event] = []
        closing = False
        while True:
            # While events wait for Redis, wake up for the next attempt.
            wait = max(0.0, self._retry_at - time.monotonic()) if unsent else None
            if not closing:
                closing = self._sort(self._queue.take(_BATCH, wait), unsent, flushes)
            if unsent and (closing or time.monotonic() >= self._retry_at):
                line = self._add(line, unsent)
                if line is not None:
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
        if line is not None:
            line.close()

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

    def _add(self, line: Line | None, batch: list[_Numbered]) -> Line | None:
        """Add ``batch`` in one script; return the line, or None on failure."""
        try:
            line = line or self._connector.line()
            now = time.time()
            wire, origin_part = self._wire, self._origin_part
            messages = [
                (channel, wire.message(channel, payload, origin_part, seq, tail, now))
                for channel, payload, tail, seq in batch
            ]
            keys: list[bytes] = []
            args: list[bytes | int | str] = [*self._streams.trim(now)]
            for channel, pack in self._wire.packed(messages):
                keys += (channel, channel + INDEX_SUFFIX.encode())
                args += (pack, pack.count(b"\n") + 1)
            add = ("EVALSHA", _ADD_SHA, len(keys), *keys, *args)
            [reply] = line.run(add)
            if isinstance(reply, self._connector.no_script):
                # Redis forgot the script (restarted, SCRIPT FLUSH, a new
                # primary), which therefore did not run: load it, run it.
                _, reply = line.run(("SCRIPT", "LOAD", _ADD), add)
            refused = ok(reply)
        # Any error, not only Redis's: this thread must outlive them all.
        except Exception as exc:
            delay = self._back_off(line)
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
        for position, why in zip(refused[::2], refused[1::2], strict=True):
            # Trying again would not help: dropped, and said why.
            key, events = keys[2 * position - 2], args[2 * position + 1]
            assert isinstance(events, int)
            self._drop(
                events,
                f"Redis refused them for {shorten(key.decode(errors='replace'))} "
                f"({shorten(_text(why))}; its index is the same key and a NUL)",
            )
        return line


class _Position:
    """Where a listener stands in one stream.

    ``entry`` is the id of the last entry read, and ``count`` the number of
    events added to the stream up to it, from the entries' own numbers: None
    until an entry tells it (a late joiner, which counts nothing it replays).
    """

    __slots__ = ("count", "entry")

    def __init__(self, entry: StreamId, count: int | None) -> None:
        self.entry = entry
        self.count = count


def _count_of(fields: dict[bytes, bytes]) -> int | None:
    """Return the number of events up to an entry, or None if it has none."""
    try:
        count = int(fields[_COUNT])
    except (KeyError, ValueError):
        return None
    return count if count >= 0 else None


def _fields(flat: list[bytes] | None) -> dict[bytes, bytes]:
    """Return an entry's fields, which Redis gives as a flat list, as a dict."""
    # None only where Redis names an entry deleted meanwhile (XREADGROUP's
    # pending entries), never from XREAD or XRANGE; a reply is still taken
    # as it comes: no fields, a malformed entry.
    flat = flat or []
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _streams_of(reply: t.Any) -> t.Iterable[tuple[bytes, list[t.Any]]]:
    """Return ``(key, entries)`` per stream of an ``XREAD`` reply.

    A map in RESP3, which recent redis-py speaks by default, a list of pairs
    in RESP2, and None when the read timed out.
    """
    if reply is None:
        return ()
    return reply.items() if isinstance(reply, dict) else reply


def _index_count(line: bytes | None) -> int:
    """Return the count of a line of an index, ``b"<n> <id>"``; 0 if none."""
    text, _, _ = (line or b"").partition(b" ")
    return int(text) if text.isdigit() else 0


_LOOK_AGAIN = 5.0
"""Seconds before a listener looks again at a key that held no stream."""


class StreamListener(Listener):
    """Reads a relay's streams from where it stopped, and hands events on.

    :meth:`run` blocks: it is meant for a thread. It waits for new entries
    with a blocking ``XREAD`` from the last entry read in each stream (at
    most ``poll`` seconds, to check ``stop``). Each entry tells how many
    events its stream had up to it: a gap from the entry read before is what
    the retention dropped unread, counted in ``missed``.

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
        self._unreadable: dict[str, float] = {}  # key: when to look again
        # Redis's clock less the monotonic one, in seconds: a wall clock
        # stepped meanwhile (NTP) moves neither.
        self._offset = time.time() - time.monotonic()

    def run(self, stop: threading.Event, deliver: Deliver) -> None:
        """Read events and hand them to ``deliver`` in batches, until ``stop``.

        :param stop: Set it to make this return.
        :param deliver: Called with each batch of accepted events, in order.
        """
        delay = self._backoff[0]
        while not stop.is_set():
            line = None
            try:
                line = self._connector.line()
                seconds, microseconds = map(int, ok(*line.run(("TIME",))))
                self._offset = seconds + microseconds / 1e6 - time.monotonic()
                while not stop.is_set():
                    keys = self._place_new(line, self._readable(self._keys()))
                    if not self.subscribed.is_set():
                        self.subscribed.set()
                        self.tried.set()
                        delay = self._backoff[0]
                    if keys:
                        self._read(line, keys, deliver)
                    else:
                        stop.wait(self._poll)
                    self._log.report()
            # Any error, as in Listener.run: a dead listener is a deaf worker.
            except Exception as exc:
                delay = self._wait_after_loss(
                    stop, exc, delay, ", to read on from the last event delivered"
                )
            finally:
                if line is not None:
                    line.close()
        self.subscribed.clear()

    def _readable(self, keys: list[str]) -> list[str]:
        """Leave out the keys found holding something else than a stream lately."""
        now = time.monotonic()
        for key, until in list(self._unreadable.items()):
            if until <= now:  # looked at again: placed, or read, as before
                del self._unreadable[key]
        return [key for key in keys if key not in self._unreadable]

    def _readable_kind(self, key: str, kind: str) -> bool:
        """Tell whether ``key``, of Redis type ``kind``, can be read.

        If not, it is left out for :data:`_LOOK_AGAIN` seconds, and logged.
        """
        if kind in {"stream", "none"}:
            return True
        self._unreadable[key] = time.monotonic() + _LOOK_AGAIN
        self._log.emit(
            "keys not streams",
            "relay cannot read %s: it holds a %s, not a stream, and its events "
            "are not delivered (delete it, or change the prefix); looking again "
            "every %.0f s",
            shorten(key),
            shorten(kind),
            _LOOK_AGAIN,
        )
        return False

    def _place_new(self, line: Line, keys: list[str]) -> list[str]:
        """Give each stream read for the first time its starting position.

        At its newest entry; or, for a late joiner, before its oldest, with
        no count yet: what the retention dropped before it joined is no loss.
        A stream not made yet is read from now, by Redis's clock, with the
        count its index holds, if the stream was deleted without it.

        :return: ``keys``, less those that hold something else than a stream.
        """
        new = [key for key in keys if key not in self._positions]
        if not new:
            return keys
        looks: list[Command] = [("TIME",)]
        for key in new:
            looks += (
                ("TYPE", key),
                ("LINDEX", key + INDEX_SUFFIX, -1),
                ("XRANGE", key, "-", "+", "COUNT", 1)
                if self._history
                else ("XREVRANGE", key, "+", "-", "COUNT", 1),
            )
        clock, *replies = line.run(*looks)
        seconds, microseconds = map(int, ok(clock))
        # Read from its start, a stream not made yet would yield a capture
        # added with its old id.
        now = (seconds * 1000 + microseconds // 1000 - 1, _LAST_SEQUENCE)
        for number, key in enumerate(new):
            kind, tail, entries = replies[3 * number : 3 * number + 3]
            kind = _text(ok(kind))
            if isinstance(tail, Exception) and "WRONGTYPE" in str(tail):
                kind = "stream whose index is of another type"
            if not self._readable_kind(key, kind):
                continue
            tail, entries = ok(tail), ok(entries)
            if not entries:
                self._positions[key] = _Position(now, _index_count(tail))
            elif self._history:
                self._positions[key] = _Position(_ZERO, None)
            else:
                [(raw_id, fields)] = entries
                self._positions[key] = _Position(
                    parse_id(raw_id), _count_of(_fields(fields))
                )
        return [key for key in keys if key not in self._unreadable]

    def _read(self, line: Line, keys: list[str], deliver: Deliver) -> None:
        """Wait up to ``poll`` for new entries; deliver their accepted events.

        Events already read are delivered even when the connection breaks in
        the middle: the positions have moved past them.
        """
        after = [format_id(self._positions[key].entry) for key in keys]
        block = max(1, int(self._poll * 1000))
        [reply] = line.run(
            ("XREAD", "COUNT", _BATCH, "BLOCK", block, "STREAMS", *keys, *after)
        )
        if isinstance(reply, Exception) and "WRONGTYPE" in str(reply):
            # A key changed type since it was placed: read the others.
            kinds = line.run(*(("TYPE", key) for key in keys))
            for key, kind in zip(keys, kinds, strict=True):
                self._readable_kind(key, _text(ok(kind)))
            return
        batch: list[Envelope] = []
        try:
            own_id = self._own_id()
            for raw_key, entries in _streams_of(ok(reply)):
                key = _text(raw_key)
                position = self._positions[key]
                for raw_id, fields in entries:
                    # Moved on before decoding: a bad entry is skipped, once.
                    position.entry = parse_id(raw_id)
                    self._read_entry(batch, key, position, _fields(fields), own_id)
        finally:
            if batch:
                self._deliver(deliver, batch)

    def _read_entry(
        self,
        batch: list[Envelope],
        key: str,
        position: _Position,
        fields: dict[bytes, bytes],
        own_id: str,
    ) -> None:
        """Add the accepted events of an entry to ``batch``, and count its events.

        An entry moves the count on only if an event of it passes the guard,
        or, its events signed but refused as replays, if it continues the
        count exactly: a publisher's retry, whose first try reached Redis. A
        forged entry, or a capture added again, holds a count that nobody
        vouches for. Events of this relay go through the guard too, unlike on
        pub/sub, for their entries' counts; they are not delivered.
        """
        data = fields.get(_FIELD)
        try:
            if data is None:
                msg = "a stream entry without its 'm' field"
                raise MalformedMessage(msg)
            envelopes = self._wire.unpacked(data)
        except MalformedMessage as exc:
            self._log_dropped(key, position.entry, exc)
            return
        channel = key.encode()
        # Freshness is judged at the entry's time, which Redis chose when it
        # was added, not at the time it is read: an event read late, when
        # catching up, is as fresh as when it was added; a captured message
        # added again gets a new id, and is as stale as the capture. An id in
        # the future (added by hand) makes the later ids future too: none is
        # judged later than now, by Redis's clock.
        at = min(position.entry[0] / 1000, time.monotonic() + self._offset)
        signed = admitted = False
        replays = True  # whether every event refused was refused as a replay
        for envelope in envelopes:
            try:
                event = self._wire.decode(channel, envelope)
            except MalformedMessage as exc:
                self._log_dropped(key, position.entry, exc)
                continue
            signed = True
            replay = self._guard.replayed(event, scope=key)
            if self._guard.admit(event, at=at, scope=key):
                admitted = True
                if event.origin.id != own_id and self._accept(key, event):
                    batch.append(event)
            elif not replay:
                replays = False
        count = _count_of(fields)
        if count is None or not signed:
            return
        before = count - len(envelopes)
        # Events refused as stale are counted by the gap that the next entry
        # shows: their entry's count is not taken.
        if admitted or (replays and before == position.count):
            self._count(key, position, before, count)

    def _count(self, key: str, position: _Position, before: int, count: int) -> None:
        """Count the events added between the position and an entry, unread.

        ``before`` is the number of events the stream had before the entry,
        and ``count`` up to it. Numbers only grow within a stream: fewer than
        at the position means the stream was made again.
        """
        if position.count is not None and before > position.count:
            trimmed = before - position.count
            self._guard.missed += trimmed
            self._log.emit(
                "events trimmed unread",
                "relay missed %d event(s) of %s: the stream's retention dropped "
                "them before this listener read them (an outage longer than the "
                "retention?), or they were refused as stale; %d missed in all",
                trimmed,
                shorten(key),
                self._guard.missed,
            )
        elif position.count is not None and before < position.count:
            self._log.emit(
                "streams made again",
                "relay found %s made again (Redis restarted without persistence, "
                "or the stream was deleted): the events added to it before %s "
                "cannot be counted; reading on from there",
                shorten(key),
                format_id(position.entry),
            )
        position.count = count

    def _log_dropped(self, key: str, entry: StreamId, exc: MalformedMessage) -> None:
        self._log.emit(
            "malformed messages",
            "relay dropped entry %s of %r: %s",
            format_id(entry),
            shorten(key),
            exc,
        )
