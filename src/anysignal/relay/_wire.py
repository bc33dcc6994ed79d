"""The relay's wire format: origins, codecs, and the signed JSON envelope.

Nothing here talks to Redis; :mod:`anysignal.relay._redis` moves the bytes.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import hashlib
import hmac
import json
import math
import typing as t
import uuid
from collections.abc import Callable

if t.TYPE_CHECKING:
    from .. import NamedSignal

    _HMAC: t.TypeAlias = hmac.HMAC

VERSION = 2
"""The envelope version this module writes and reads: 2 added the timestamp, and
a signature over the channel and every byte of the message."""

_SIG_HEAD = b',"sig":"'
_SIG_HEX_LEN = hashlib.sha256().digest_size * 2
# A signed envelope ends with ,"sig":"<64 hex digits>"}
_SIG_SUFFIX_LEN = len(_SIG_HEAD) + _SIG_HEX_LEN + 2
# The bytes check_size adds for the rest of the envelope: the braces, the seq
# and ts at their widest (20 digits each), and the ts and v keys.
_ENVELOPE_OVERHEAD = len(b'{"kwargs":' + b',"ts":,"v":}') + 20 + 20 + 3

_PACK_BYTES = 64 * 1024
"""The most bytes :meth:`Wire.packed` puts in one message, unless one event
needs more: enough to carry hundreds of small events, far below the output
buffer that Redis lets a subscriber fall behind by before cutting it off.
A listener accepts packs this large whatever its ``max_message_bytes``, which
bounds each envelope: relays whose limits differ still hear each other."""

_PACK_EVENTS = 256
"""The most envelopes in one pack: a listener refuses a message that holds
more, so that a forged one cannot make it check a million empty envelopes."""

_UNENCODABLE = (TypeError, ValueError, RecursionError)
"""What json.dumps raises for a value it cannot encode: NaN, sets, deep nesting."""

Payload: t.TypeAlias = "bytes | dict[str, str | int | float | bool | None]"
"""An event's keyword arguments as the send site hands them to the publisher:
JSON already, or a dict of immutable scalars that the publisher encodes (see
:meth:`Wire.checked`)."""

_WIDEST = {int: 20, float: 24, bool: 5, type(None): 4}
"""The longest JSON of a value of each type, for ints of up to 64 bits: the
bound that :func:`_scalars_bound` adds up."""


@dataclasses.dataclass(frozen=True, slots=True)
class Origin:
    """Where a relayed event came from: the sender that remote receivers get.

    Receivers in other processes are called as ``receiver(origin, **kwargs)``.
    """

    pid: int
    """The process id of the sending process, on its host."""
    host: str
    """The host name of the sending process."""
    id: str
    """A random id of the sending :class:`~anysignal.relay.Relay`, unique per
    process: it tells apart two workers with the same pid on different hosts."""


class PayloadError(TypeError, ValueError):
    """A relayed signal's keyword arguments cannot be sent across processes.

    Raised at the send site, before any receiver runs (by ``send`` and
    ``send_async``; a robust send logs it as the relay receiver's failure,
    and keyword names starting with ``_`` are refused too). It is both a
    :exc:`TypeError` (a value of a type the codec cannot encode) and a
    :exc:`ValueError` (an encoded event larger than the relay's limit), so that
    code catching either of the errors :func:`json.dumps` raises still works.
    """


class MalformedMessage(Exception):
    """An incoming message that the relay drops: the message says why."""


class Codec(t.Protocol):
    """Turns values that JSON cannot carry into JSON values, and back.

    A relay encodes keyword arguments with :func:`json.dumps`, calling
    :meth:`encode` for each value JSON has no type for; it decodes with
    :func:`json.loads`, calling :meth:`decode` for every JSON object.
    """

    def encode(self, value: object) -> object:
        """Return a JSON-able stand-in for ``value``, or raise :exc:`TypeError`.

        :param value: A value that is not a str, int, float, bool, None, list,
            tuple or dict: one JSON cannot carry as it is.
        """
        ...

    def decode(self, obj: dict[str, t.Any]) -> object:
        """Return the value that ``obj`` stands for, or ``obj`` itself.

        :param obj: A decoded JSON object, innermost first.
        """
        ...


class JSONCodec:
    """Plain JSON: str, int, float, bool, None, lists and dicts, and nothing else.

    The default codec. JSON has no tuples and only string keys, so tuples
    arrive as lists and dict keys that are numbers arrive as strings.
    """

    def encode(self, value: object) -> object:
        """Refuse ``value``: plain JSON has no type for it.

        :param value: The value :func:`json.dumps` could not encode.
        :raises TypeError: Always, naming the type.
        """
        msg = f"a {type(value).__qualname__} is not a JSON type"
        raise TypeError(msg)

    def decode(self, obj: dict[str, t.Any]) -> object:
        """Return ``obj`` unchanged: plain JSON objects are dicts.

        :param obj: A decoded JSON object.
        """
        return obj


_TAG = "__anysignal__"
"""The key that marks a JSON object as an encoded value, in TaggedCodec."""

_Scalar: t.TypeAlias = tuple[type, Callable[[t.Any], str], Callable[[str], t.Any]]

_SCALARS: dict[str, _Scalar] = {
    # datetime before date: a datetime is also a date.
    "datetime": (
        datetime.datetime,
        datetime.datetime.isoformat,
        datetime.datetime.fromisoformat,
    ),
    "date": (datetime.date, datetime.date.isoformat, datetime.date.fromisoformat),
    "time": (datetime.time, datetime.time.isoformat, datetime.time.fromisoformat),
    "uuid": (uuid.UUID, str, uuid.UUID),
    "decimal": (decimal.Decimal, str, decimal.Decimal),
}


class TaggedCodec(JSONCodec):
    """JSON, plus datetimes, dates, times, UUIDs, decimals and chosen dataclasses.

    Each such value travels as a JSON object tagged with ``"__anysignal__"``.
    Dataclasses must be registered by passing their classes: a message can
    only ever make instances of the classes registered here, never of a class
    it names, which is what keeps this safe where pickle is not.

    :param dataclass_types: The dataclasses that may travel. Each is known on
        the wire by its qualified name, so every process must register a class
        of the same name and fields. Their fields are encoded recursively.
    :raises TypeError: One of ``dataclass_types`` is not a dataclass.
    :raises ValueError: Two of them share a qualified name.
    """

    def __init__(self, *dataclass_types: type) -> None:
        self._by_name: dict[str, type] = {}
        for cls in dataclass_types:
            if not dataclasses.is_dataclass(cls):
                msg = (
                    f"TaggedCodec(*dataclass_types): {cls!r} is not a dataclass "
                    "class. Pass classes decorated with @dataclasses.dataclass."
                )
                raise TypeError(msg)
            name = cls.__qualname__
            if self._by_name.setdefault(name, cls) is not cls:
                msg = (
                    f"TaggedCodec(*dataclass_types): two classes are named {name!r}"
                    " and could not be told apart on the wire. Rename one."
                )
                raise ValueError(msg)

    def encode(self, value: object) -> object:
        """Return the tagged JSON object for ``value``.

        :param value: A value of one of the supported types.
        :raises TypeError: ``value`` is of no supported type, or is an
            instance of a dataclass that was not registered.
        """
        for tag, (cls, to_str, _) in _SCALARS.items():
            if isinstance(value, cls):
                return {_TAG: tag, "value": to_str(value)}
        name = type(value).__qualname__
        if self._by_name.get(name) is type(value):
            fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}  # type: ignore[arg-type]
            return {_TAG: "dataclass", "type": name, "fields": fields}
        if dataclasses.is_dataclass(value):
            msg = (
                f"dataclass {name} is not registered with this TaggedCodec; "
                f"pass it as TaggedCodec({name}, ...)"
            )
            raise TypeError(msg)
        return super().encode(value)

    def decode(self, obj: dict[str, t.Any]) -> object:
        """Return the value that a tagged object stands for, or ``obj`` itself.

        :param obj: A decoded JSON object.
        :raises MalformedMessage: ``obj`` is tagged, but wrongly.
        """
        tag = obj.get(_TAG)
        if tag is None:
            return obj
        try:
            if tag == "dataclass":
                return self._by_name[obj["type"]](**obj["fields"])
            return _SCALARS[tag][2](obj["value"])
        except (KeyError, TypeError, ValueError, decimal.InvalidOperation) as exc:
            msg = f"bad tagged value {shorten(repr(obj))}: {_describe(exc)}"
            raise MalformedMessage(msg) from exc


class Envelope(t.NamedTuple):
    """One decoded event, as the listener hands it on."""

    signal: str
    origin: Origin
    seq: int
    timestamp: float
    """When it was published, in seconds since the epoch, by the sender's clock."""
    kwargs: dict[str, t.Any]


class Wire:
    """Encodes events into envelopes and back, for one relay.

    The envelope is a JSON object whose keys are written in sorted order:
    ``{"kwargs", "origin": {"host", "id", "pid"}, "seq", "signal", "ts", "v"}``,
    ``ts`` being the publishing time in milliseconds since the epoch, and
    ``(origin.id, seq)`` the event's unique id. Last, when the relay has a key,
    comes ``"sig"``: the hex HMAC-SHA256 of the channel's name (after its length,
    so that no channel and body can pass for another pair) and of the
    envelope's bytes without it. Keeping the signature last lets a receiver
    check the exact bytes it got, every one of them, without re-encoding
    anything; covering the channel stops a message signed for one prefix from
    being replayed on another.

    :param codec: Encodes and decodes the keyword arguments.
    :param key: The shared secret for HMAC signing, or None not to sign.
    :param max_bytes: The largest envelope sent or accepted, signature included.
    """

    def __init__(self, codec: Codec, key: bytes | None, max_bytes: int) -> None:
        # Each signature copies this keyed state: hmac.digest() would let go
        # of the GIL for every message, however small, and in a process with
        # other busy threads each such release can cost a thread switch.
        self._keyed = None if key is None else hmac.new(key, digestmod="sha256")
        self._max_bytes = max_bytes
        # Plain JSON needs no hook: decoding is faster without one. Both made
        # once: json.dumps and json.loads with options make one at every call.
        object_hook = None if type(codec) is JSONCodec else codec.decode
        self._decoder = json.JSONDecoder(object_hook=object_hook)
        self._encoder = json.JSONEncoder(
            default=codec.encode, allow_nan=False, separators=(",", ":")
        )

    def checked(
        self,
        signal: NamedSignal,
        kwargs: dict[str, t.Any],
        origin_part: bytes,
        tail: bytes,
    ) -> Payload:
        """Check an event at the send site; return what the publisher encodes.

        Immutable scalars (str, int, finite float, bool, None) cannot fail to
        encode, and their size can be bounded without encoding them: such
        keyword arguments are returned as they are, for the publishing thread
        to encode, and the send costs its caller less. Anything else is
        encoded now, because the caller may change a list or a dict once the
        send returns, and because only encoding can tell whether it fits.
        Either way, what cannot be sent raises here.

        :param signal: The signal being sent, named in errors.
        :param kwargs: The keyword arguments of the send, a dict of its own.
        :param origin_part: From :func:`origin_part`, for the sending relay.
        :param tail: From :func:`signal_part`, for the signal sent.
        :raises PayloadError: The event cannot be encoded, or is too large.
        """
        bound = _scalars_bound(kwargs)
        if (
            bound is not None
            and self._size(bound, origin_part, tail) <= self._max_bytes
        ):
            return kwargs
        kwargs_json = self.encode_kwargs(signal, kwargs)
        self.check_size(kwargs_json, origin_part, tail)
        return kwargs_json

    def encode_kwargs(self, signal: NamedSignal, kwargs: dict[str, t.Any]) -> bytes:
        """Encode ``kwargs``, or raise a :class:`PayloadError` naming the culprit.

        :param signal: The signal being sent, named in errors.
        :param kwargs: The keyword arguments of the send.
        """
        for name in filter(_is_option, kwargs):
            msg = (
                f"cannot relay {signal!r}: keyword argument {name!r} starts with an "
                "underscore, which marks send options (such as _async_wrapper); "
                "options never cross processes. Rename the argument."
            )
            raise PayloadError(msg)
        try:
            return self._dumps(kwargs)
        except _UNENCODABLE as exc:
            # Find the argument at fault, to name it: only on the error path.
            for name, value in kwargs.items():
                try:
                    self._dumps(value)
                except _UNENCODABLE as culprit:
                    msg = (
                        f"cannot relay {signal!r}: keyword argument {name!r} "
                        f"cannot be encoded as JSON ({_describe(culprit)}). Pass "
                        "JSON values (str, int, finite float, bool, None, lists, "
                        "dicts with str keys, nested at most a few hundred deep), "
                        "or give the Relay a codec that encodes it, such as "
                        "anysignal.relay.TaggedCodec."
                    )
                    raise PayloadError(msg) from culprit
            msg = f"cannot relay {signal!r}: its keyword arguments cannot be encoded"
            raise PayloadError(msg) from exc

    def check_size(self, kwargs_json: bytes, origin_part: bytes, tail: bytes) -> None:
        """Raise :class:`PayloadError` if the event could exceed the size limit.

        Called at the send site, before the publishing thread numbers, stamps
        and signs the event: it counts the widest number and stamp possible.

        :param kwargs_json: From :meth:`encode_kwargs`.
        :param origin_part: From :func:`origin_part`, for the sending relay.
        :param tail: From :func:`signal_part`, for the signal sent.
        """
        size = self._size(len(kwargs_json), origin_part, tail)
        if size > self._max_bytes:
            msg = (
                f"cannot relay an event of up to {size} bytes: the relay's "
                f"max_message_bytes is {self._max_bytes}. Send less, such as an id "
                "to look the data up by, or raise max_message_bytes on every relay."
            )
            raise PayloadError(msg)

    def _size(self, kwargs_size: int, origin_part: bytes, tail: bytes) -> int:
        """Return the largest envelope with ``kwargs_size`` bytes of kwargs."""
        signature = _SIG_SUFFIX_LEN if self._keyed else 0
        overhead = _ENVELOPE_OVERHEAD + signature
        return kwargs_size + len(origin_part) + len(tail) + overhead

    def message(  # noqa: PLR0917 - the parts of one message, in wire order
        self,
        channel: bytes,
        payload: Payload,
        origin_part: bytes,
        seq: int,
        tail: bytes,
        now: float,
    ) -> bytes:
        """Assemble and sign the message that ``channel`` will carry.

        Assembled from parts rather than dumped whole, so that a send encodes
        only its keyword arguments: the rest is the same for every event.

        :param channel: The channel it is published on, covered by the signature.
        :param payload: From :meth:`checked`.
        :param origin_part: From :func:`origin_part`, for the sending relay.
        :param seq: The event's number from its relay, unique with the origin's id.
        :param tail: From :func:`signal_part`, for the signal sent.
        :param now: The publishing time, in seconds since the epoch.
        """
        kwargs_json = payload if type(payload) is bytes else self._dumps(payload)
        body = b"".join(
            (
                b'{"kwargs":',
                kwargs_json,
                origin_part,
                b"%d" % seq,
                tail,
                b',"ts":%d,"v":%d}' % (int(now * 1000), VERSION),
            )
        )
        if self._keyed is None:
            return body
        return body[:-1] + _signature_suffix(self._keyed, channel, body)

    def packed(
        self, messages: list[tuple[bytes, bytes]]
    ) -> t.Iterator[tuple[bytes, bytes]]:
        """Pack ``(channel, message)`` pairs into fewer messages, in order.

        Consecutive messages on one channel travel as one, separated by
        newlines (which JSON never leaves unescaped), up to :data:`_PACK_EVENTS`
        envelopes and :data:`_PACK_BYTES` or ``max_message_bytes`` if less: a
        burst costs Redis, and each listener, one message per pack instead of
        one per event. Each envelope keeps its own signature, so a listener
        checks each on its own, and the order of the messages is kept, across
        channels too.
        """
        limit = min(_PACK_BYTES, self._max_bytes)
        pack: list[bytes] = []
        pack_channel = b""
        size = 0
        for channel, message in messages:
            if pack and (
                channel != pack_channel
                or size + 1 + len(message) > limit
                or len(pack) == _PACK_EVENTS
            ):
                yield pack_channel, b"\n".join(pack)
                pack = []
            if not pack:
                pack_channel, size = channel, -1
            pack.append(message)
            size += 1 + len(message)
        if pack:
            yield pack_channel, b"\n".join(pack)

    def unpacked(self, data: bytes) -> list[bytes]:
        """Split a message from :meth:`packed` into its envelopes.

        :raises MalformedMessage: The message is larger than any pack may be,
            or holds too many envelopes.
        """
        limit = max(self._max_bytes, _PACK_BYTES)
        if len(data) > limit:
            msg = f"message of {len(data)} bytes exceeds the {limit} of a pack"
            raise MalformedMessage(msg)
        envelopes = data.split(b"\n", _PACK_EVENTS)
        if len(envelopes) > _PACK_EVENTS:
            msg = f"a pack of more than {_PACK_EVENTS} envelopes"
            raise MalformedMessage(msg)
        return envelopes

    def decode(self, channel: bytes, data: bytes) -> Envelope:
        """Check and decode one incoming message.

        :param channel: The channel it came on, which the signature covers.
        :param data: The message, as Redis delivered it.
        :raises MalformedMessage: The message is too large, badly signed, not
            an envelope of this version, or its arguments cannot be decoded.
        """
        if len(data) > self._max_bytes:
            msg = (
                f"message of {len(data)} bytes exceeds "
                f"max_message_bytes={self._max_bytes}"
            )
            raise MalformedMessage(msg)
        if self._keyed is not None:
            data = _verified(self._keyed, channel, data)
        try:
            # Envelopes are ASCII: no need for json.loads to guess an encoding.
            doc = self._decoder.decode(data.decode())
        except MalformedMessage:
            raise
        # JSONDecodeError and UnicodeDecodeError, or deep nesting:
        except (ValueError, RecursionError) as exc:
            msg = f"not JSON, or too deeply nested: {_describe(exc)}"
            raise MalformedMessage(msg) from exc
        except Exception as exc:
            # A codec's decode (a registered dataclass's __post_init__, say) may
            # raise anything: a message from outside must never stop the relay.
            msg = f"arguments that cannot be decoded: {_describe(exc)}"
            raise MalformedMessage(msg) from exc
        return _check_envelope(doc)

    def _dumps(self, value: object) -> bytes:
        return self._encoder.encode(value).encode()


def _scalars_bound(kwargs: dict[str, t.Any]) -> int | None:
    """Bound the JSON size of ``kwargs``, if it holds only immutable scalars.

    Returns None for anything else, and for what may not encode (an int wider
    than 64 bits may have too many digits to print, a float may be NaN).
    A character takes at most 12 bytes: an astral one, as two ``\\uXXXX``.
    """
    size = 2
    for name, value in kwargs.items():
        kind = type(value)
        if _is_option(name) or type(name) is not str:
            return None  # refused by encode_kwargs, or a str subclass's len
        if kind is str:
            size += 12 * len(value) + 2
        elif (
            kind not in _WIDEST
            or (kind is int and value.bit_length() > 63)  # 64 bits with the sign
            or (kind is float and not math.isfinite(value))
        ):
            return None
        else:
            size += _WIDEST[kind]
        size += 12 * len(name) + 4  # the quotes, the colon and the comma
    return size


def _signature_suffix(keyed: _HMAC, channel: bytes, body: bytes) -> bytes:
    """Return what replaces the closing brace of ``body`` in a signed message."""
    mac = keyed.copy()
    mac.update(b"%d:%s%s" % (len(channel), channel, body))
    return b"".join((_SIG_HEAD, mac.hexdigest().encode(), b'"}'))


def _verified(keyed: _HMAC, channel: bytes, data: bytes) -> bytes:
    """Return the envelope without its signature, if the signature is right."""
    sig_start = len(data) - _SIG_SUFFIX_LEN
    if sig_start < 1 or data[sig_start : sig_start + len(_SIG_HEAD)] != _SIG_HEAD:
        msg = "unsigned, but this relay requires a signature"
        raise MalformedMessage(msg)
    body = data[:sig_start] + b"}"
    # The whole suffix is compared, closing bytes included: every byte of
    # the message is either signed or checked against what signing makes.
    expected = _signature_suffix(keyed, channel, body)
    if not hmac.compare_digest(expected, data[sig_start:]):
        msg = (
            "wrong signature: signed with another key, altered, or published "
            "on another channel than it was signed for"
        )
        raise MalformedMessage(msg)
    return body


def origin_part(origin: Origin) -> bytes:
    """Return the envelope's bytes between the kwargs and the seq, for ``origin``."""
    fields = {"host": origin.host, "id": origin.id, "pid": origin.pid}
    return b',"origin":%s,"seq":' % json.dumps(fields, separators=(",", ":")).encode()


def signal_part(name: str) -> bytes:
    """Return the envelope's bytes after the seq, for the signal called ``name``."""
    return b',"signal":%s' % json.dumps(name).encode()


def shorten(text: str, limit: int = 120) -> str:
    """Return ``text`` cut to about ``limit`` characters, saying how long it was.

    Whatever a log line quotes from a message (a channel name, an error that
    quotes a payload) goes through this: a hostile peer must not be able to
    make one log line of a megabyte.
    """
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text)} characters)"


def _describe(exc: BaseException) -> str:
    """Return ``exc`` as a short text for an error message or a log line."""
    return shorten(f"{type(exc).__name__}: {exc}")


def _is_option(name: str) -> bool:
    """Whether ``name`` is a send option (``_async_wrapper``...), not a payload.

    Options never cross the wire: a remote message must not choose how this
    process runs its receivers.
    """
    return name.startswith("_")


def _check_envelope(doc: object) -> Envelope:
    """Return ``doc`` as an :class:`Envelope`, if it is one of this version.

    Plain lookups and exact type checks, not a ``match`` statement: this runs
    for every message, and a mapping pattern costs more than the JSON parsing
    itself. Exact types also refuse ``true`` where a number is due.
    """
    if type(doc) is dict and doc.get("v") == VERSION:
        try:
            signal, seq, stamp = doc["signal"], doc["seq"], doc["ts"]
            kwargs, origin = doc["kwargs"], doc["origin"]
            pid, host, relay_id = origin["pid"], origin["host"], origin["id"]
        except (KeyError, TypeError, IndexError):
            pass  # a field missing, or an origin that is not an object
        else:
            if (
                type(signal) is str
                and type(seq) is int
                and type(stamp) is int
                and type(kwargs) is dict
                and type(pid) is int
                and type(host) is str
                and type(relay_id) is str
                and not any(map(_is_option, kwargs))
            ):
                sender = Origin(pid, host, relay_id)
                return Envelope(signal, sender, seq, stamp / 1000, kwargs)
    if isinstance(doc, dict) and doc.get("v") != VERSION:
        version = shorten(repr(doc.get("v")))
        msg = f"envelope version {version}, but this relay reads {VERSION}"
    else:
        msg = "not an anysignal relay envelope"
    raise MalformedMessage(msg)
