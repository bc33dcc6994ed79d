"""The stand-in for ``blinker.base``, where blinker 1.9 defines its public names."""

from anysignal import ANY, NamedSignal, Namespace, Signal, default_namespace, signal

__all__ = [
    "ANY",
    "NamedSignal",
    "Namespace",
    "Signal",
    "default_namespace",
    "signal",
]
