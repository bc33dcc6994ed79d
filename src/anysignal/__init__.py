"""Async-aware, blinker-compatible signals for Flask and Quart extensions.

The public API lives here; the modules starting with ``_`` are private.
"""

from ._errors import AsyncReceiverError as AsyncReceiverError
from ._errors import ReceiverErrors as ReceiverErrors
from ._namespace import NamedSignal as NamedSignal
from ._namespace import Namespace as Namespace
from ._namespace import TypedSignal as TypedSignal
from ._namespace import default_namespace as default_namespace
from ._namespace import signal as signal
from ._namespace import typed_signal as typed_signal
from ._senders import ANY as ANY
from ._signal import Signal as Signal

# Public classes say where to import them from, in reprs and tracebacks.
for _public in (
    AsyncReceiverError,
    NamedSignal,
    Namespace,
    ReceiverErrors,
    Signal,
    TypedSignal,
):
    _public.__module__ = __name__
del _public

__all__ = [
    "ANY",
    "AsyncReceiverError",
    "NamedSignal",
    "Namespace",
    "ReceiverErrors",
    "Signal",
    "TypedSignal",
    "default_namespace",
    "signal",
    "typed_signal",
]
