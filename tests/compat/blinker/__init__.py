"""A stand-in for blinker 1.9: its public names, as anysignal has them.

A re-export and nothing more: no behaviour is changed here. ``nox -s compat``
puts the folder above this one first on ``sys.path`` and runs blinker's,
Flask's and Quart's test suites against it.
"""

from anysignal import ANY, NamedSignal, Namespace, Signal, default_namespace, signal

__all__ = [
    "ANY",
    "NamedSignal",
    "Namespace",
    "Signal",
    "default_namespace",
    "signal",
]
