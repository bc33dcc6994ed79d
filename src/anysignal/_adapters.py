"""The adapters' shared glue: relaying a framework's built-in signals, once per app.

Private to :mod:`anysignal.flask` and :mod:`anysignal.quart`, which both call
:func:`connect_builtin_relays` from their ``relay_builtin_signals``.
"""

from __future__ import annotations

import typing as t
from collections.abc import Callable, Iterable


def connect_builtin_relays(
    app: t.Any,
    app_relays: Iterable[tuple[t.Any, Callable[..., t.Any]]],
    process_relays: Iterable[tuple[t.Any, Callable[..., t.Any]]] = (),
) -> None:
    """Connect the adapters' relays for ``app``, once per app.

    ``app_relays`` are connected for ``app`` as the sender; ``process_relays``
    for any sender (connecting them again is a no-op). The flag that makes a
    second call do nothing lives in ``app.extensions``, as Flask and Quart
    extensions keep their state there.
    """
    if app.extensions.get(_RELAYED_KEY):
        return
    # Strongly, so that no reference-keeping by anyone can make a relay vanish;
    # the app is still held weakly, as the sender.
    for builtin, relay in app_relays:
        builtin.connect(relay, sender=app, weak=False)
    for builtin, relay in process_relays:
        builtin.connect(relay, weak=False)
    app.extensions[_RELAYED_KEY] = True


_RELAYED_KEY = "anysignal.relay_builtin_signals"
"""The key in ``app.extensions`` that says an app's built-in signals are relayed."""
