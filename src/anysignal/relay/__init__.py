"""Relay named signals between processes through Redis pub/sub or Streams.

Needs the ``redis`` extra (``pip install 'anysignal[redis]'``). :mod:`anysignal`
itself never imports this package. See :doc:`/relay` for the guarantees and
the security model. The modules starting with ``_`` are private.
"""

from ._relay import Relay as Relay
from ._relay import local_only as local_only
from ._relay import remote_only as remote_only
from ._streams import Streams as Streams
from ._wire import Codec as Codec
from ._wire import JSONCodec as JSONCodec
from ._wire import MalformedMessage as MalformedMessage
from ._wire import Origin as Origin
from ._wire import PayloadError as PayloadError
from ._wire import TaggedCodec as TaggedCodec

# Public classes say where to import them from, in reprs and tracebacks.
for _public in (
    Codec,
    JSONCodec,
    MalformedMessage,
    Origin,
    PayloadError,
    Relay,
    Streams,
    TaggedCodec,
    local_only,
    remote_only,
):
    _public.__module__ = __name__
del _public

__all__ = [
    "Codec",
    "JSONCodec",
    "MalformedMessage",
    "Origin",
    "PayloadError",
    "Relay",
    "Streams",
    "TaggedCodec",
    "local_only",
    "remote_only",
]
