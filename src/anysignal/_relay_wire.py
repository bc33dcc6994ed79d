"""The relay's wire format: origins, codecs, and the signed JSON envelope.

Nothing here talks to Redis; :mod:`anysignal._relay_redis` moves the bytes.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import hashlib
import hmac
import json
import typing as t
import uuid
from collections.abc import Callable

if t.TYPE_CHECKING:
    from ._namespace import NamedSignal

VERSION = 1
"""The envelope version this module writes and reads."""

_SIG_HEAD = b',"sig":"'
_SIG_HEX_LEN = hashlib.sha256().digest_size * 2
# A signed envelope ends with ,"sig":"<64 hex digits>"}
_SIG_SUFFIX_LEN = len(_SIG_HEAD) + _SIG_HEX_LEN + 2


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
            msg = f"bad tagged value {obj!r}: {exc!r}"
            raise MalformedMessage(msg) from exc


class Envelope(t.NamedTuple):
    """One decoded event, as the listener hands it on."""

    signal: str
    origin: Origin
    seq: int
    kwargs: dict[str, t.Any]


class Wire:
    """Encodes events into envelopes and back, for one relay.

    The envelope is a JSON object whose keys are written in sorted order:
    ``{"kwargs", "origin": {"host", "id", "pid"}, "seq", "signal", "v"}``, and
    last, when the relay has a key, ``"sig"``: the hex HMAC-SHA256 of the
    envelope's bytes without it. Keeping the signature last lets a receiver
    check the exact bytes it got, without re-encoding anything.

    :param codec: Encodes and decodes the keyword arguments.
    :param key: The shared secret for HMAC signing, or None not to sign.
    :param max_bytes: The largest envelope sent or accepted, signature included.
    """

    def __init__(self, codec: Codec, key: bytes | None, max_bytes: int) -> None:
        self._codec = codec
        self._key = key
        self._max_bytes = max_bytes
        # Plain JSON needs no hook: json.loads is faster without one.
        self._object_hook = None if type(codec) is JSONCodec else codec.decode

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
        except (TypeError, ValueError) as exc:
            # Find the argument at fault, to name it: only on the error path.
            for name, value in kwargs.items():
                try:
                    self._dumps(value)
                except (TypeError, ValueError) as culprit:
                    msg = (
                        f"cannot relay {signal!r}: keyword argument {name!r} "
                        f"cannot be encoded as JSON ({culprit}). Pass JSON values "
                        "(str, int, float, bool, None, lists, dicts with str keys), "
                        "or give the Relay a codec that encodes it, such as "
                        "anysignal.relay.TaggedCodec."
                    )
                    raise PayloadError(msg) from culprit
            msg = f"cannot relay {signal!r}: its keyword arguments cannot be encoded"
            raise PayloadError(msg) from exc

    def envelope(
        self, kwargs_json: bytes, origin_part: bytes, seq: int, signal_part: bytes
    ) -> bytes:
        """Assemble an unsigned envelope, or raise :class:`PayloadError` if too big.

        Assembled from parts rather than dumped whole, so that a send encodes
        only its keyword arguments: the rest is the same for every event.

        :param kwargs_json: From :meth:`encode_kwargs`.
        :param origin_part: From :func:`origin_part`, for the sending relay.
        :param seq: The event's sequence number from its relay.
        :param signal_part: From :func:`signal_part`, for the signal sent.
        """
        body = b"".join(
            (b'{"kwargs":', kwargs_json, origin_part, b"%d" % seq, signal_part)
        )
        size = len(body) + (_SIG_SUFFIX_LEN if self._key else 0)
        if size > self._max_bytes:
            msg = (
                f"cannot relay an event of {size} bytes: the relay's "
                f"max_message_bytes is {self._max_bytes}. Send less, such as an id "
                "to look the data up by, or raise max_message_bytes on every relay."
            )
            raise PayloadError(msg)
        return body

    def sign(self, body: bytes) -> bytes:
        """Return ``body`` with its signature added, if the relay has a key.

        :param body: An envelope from :meth:`envelope`.
        """
        if self._key is None:
            return body
        sig = hmac.new(self._key, body, hashlib.sha256).hexdigest().encode()
        return b"".join((body[:-1], _SIG_HEAD, sig, b'"}'))

    def decode(self, data: bytes) -> Envelope:
        """Check and decode one incoming message.

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
        if self._key is not None:
            data = self._verified(data)
        try:
            doc = json.loads(data, object_hook=self._object_hook)
        except MalformedMessage:
            raise
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, deep nesting
            msg = f"not JSON, or too deeply nested: {exc}"
            raise MalformedMessage(msg) from exc
        except Exception as exc:
            # A codec's decode (a registered dataclass's __post_init__, say) may
            # raise anything: a message from outside must never stop the relay.
            msg = f"arguments that cannot be decoded: {exc!r}"
            raise MalformedMessage(msg) from exc
        return _check_envelope(doc)

    def _verified(self, data: bytes) -> bytes:
        """Return the envelope without its signature, if the signature is right."""
        sig_start = len(data) - _SIG_SUFFIX_LEN
        if sig_start < 1 or data[sig_start : sig_start + len(_SIG_HEAD)] != _SIG_HEAD:
            msg = "unsigned, but this relay requires a signature"
            raise MalformedMessage(msg)
        body = data[:sig_start] + b"}"
        expected = hmac.new(self._key or b"", body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(
            expected.encode(), data[sig_start + len(_SIG_HEAD) : -2]
        ):
            msg = "wrong signature: signed with another key, or altered"
            raise MalformedMessage(msg)
        return body

    def _dumps(self, value: object) -> bytes:
        return json.dumps(
            value, default=self._codec.encode, allow_nan=False, separators=(",", ":")
        ).encode()


def origin_part(origin: Origin) -> bytes:
    """Return the envelope's bytes between the kwargs and the seq, for ``origin``."""
    fields = {"host": origin.host, "id": origin.id, "pid": origin.pid}
    return b',"origin":%s,"seq":' % json.dumps(fields, separators=(",", ":")).encode()


def signal_part(name: str) -> bytes:
    """Return the envelope's bytes after the seq, for the signal called ``name``."""
    return b',"signal":%s,"v":%d}' % (json.dumps(name).encode(), VERSION)


def _is_option(name: str) -> bool:
    """Whether ``name`` is a send option (``_async_wrapper``...), not a payload.

    Options never cross the wire: a remote message must not choose how this
    process runs its receivers.
    """
    return name.startswith("_")


def _check_envelope(doc: object) -> Envelope:
    """Return ``doc`` as an :class:`Envelope`, if it is one of this version."""
    match doc:
        case {
            "v": 1,
            "signal": str(signal),
            "origin": {"pid": int(pid), "host": str(host), "id": str(relay_id)},
            "seq": int(seq),
            "kwargs": dict(kwargs),
        } if not any(map(_is_option, kwargs)):
            return Envelope(signal, Origin(pid, host, relay_id), seq, kwargs)
    if isinstance(doc, dict) and doc.get("v") != VERSION:
        msg = f"envelope version {doc.get('v')!r}, but this relay reads {VERSION}"
    else:
        msg = "not an anysignal relay envelope"
    raise MalformedMessage(msg)
