"""Send anysignal signals from a Flask app, and relay Flask's built-in signals.

Needs the ``flask`` extra (``pip install anysignal[flask]``): Flask runs
coroutine receivers through asgiref. :mod:`anysignal` itself never imports
this module, so Flask stays optional.
"""

from __future__ import annotations

import atexit
import typing as t
from typing import TYPE_CHECKING

from flask import Flask, current_app, has_app_context
from flask import signals as flask_signals

from . import framework
from ._adapters import connect_builtin_relays
from .framework import NoAppContextError

if TYPE_CHECKING:
    from collections.abc import Callable

    from werkzeug.local import LocalProxy

    from ._namespace import NamedSignal
    from ._receivers import Receiver
    from ._signal import Signal
    from .relay import Origin, Relay

__all__ = ["NoAppContextError", "init_relay", "relay_builtin_signals", "send"]


def send(
    signal: Signal, sender: object = None, /, **kwargs: t.Any
) -> list[tuple[Receiver, t.Any]]:
    """Send ``signal`` from within the current Flask app or request context.

    Sync receivers are called directly; coroutine receivers are run to
    completion through the current app's :meth:`~flask.Flask.ensure_sync`,
    exactly as Flask runs ``async def`` views. Receivers run one after another,
    in connection order, and an exception from one propagates at once.

    :param signal: The signal to send, such as one from the extension's
        :class:`~anysignal.Namespace`.
    :param sender: The object sending; by default the current app itself (the
        real :class:`~flask.Flask` object, not the ``current_app`` proxy, so that
        receivers connected for the app match).
    :param kwargs: Passed to every receiver.
    :return: ``[(receiver, result), ...]``, as :meth:`~anysignal.Signal.send`.
    :raises NoAppContextError: No Flask app context is pushed.
    """
    app = _current_app(signal)
    return signal.send(
        app if sender is None else sender,
        _async_wrapper=_run_to_completion(app),
        **kwargs,
    )


def init_relay(app: Flask, relay: Relay) -> None:
    """Let ``relay`` deliver remote events to ``app``, from a daemon thread.

    Each remote event is re-sent in an app context of ``app``, with
    :meth:`~anysignal.Signal.send_robust`, coroutine receivers running
    through ``app.ensure_sync`` as with :func:`send`. The relay is closed at
    interpreter exit (a worker's graceful shutdown), and stored as
    ``app.extensions["anysignal.relay"]``. Called before a fork (``gunicorn
    --preload``, an app factory run in the server's master), it works in
    every forked worker as well: each child starts its own listening thread
    and Redis connections, and needs no ``post_fork`` hook.

    :param app: The app whose context receivers run in.
    :param relay: The process's :class:`~anysignal.relay.Relay`.
    :raises RuntimeError: The relay is listening already.
    """
    async_wrapper = _run_to_completion(app)

    def deliver(signal: NamedSignal, origin: Origin, kwargs: dict[str, t.Any]) -> None:
        with app.app_context():
            signal.send_robust(origin, _async_wrapper=async_wrapper, **kwargs)

    relay.start_in_thread(deliver=deliver)
    app.extensions["anysignal.relay"] = relay
    atexit.register(relay.close)


def relay_builtin_signals(app: Flask) -> None:
    """Re-send ``app``'s Flask built-in signals into :mod:`anysignal.framework`'s.

    After this call, each time Flask sends, say, :data:`flask.request_finished`
    for ``app``, :data:`anysignal.framework.request_finished` is sent with the
    same sender (``app``) and keyword arguments, its coroutine receivers run
    through ``app.ensure_sync``. A receiver on the neutral signal then serves
    Flask and Quart apps alike.

    Calling it again for the same app does nothing. The relays hold ``app``
    weakly, as Flask's signals do: relaying never keeps an app alive.

    :param app: The app whose built-in signals to relay.
    """
    connect_builtin_relays(app, _RELAYS)


def _run_to_completion(app: Flask) -> Callable[[Receiver], Receiver]:
    """Return the wrapper that runs a coroutine receiver to completion in ``app``.

    It is ``app.ensure_sync``, so that an app that overrides it (to run
    coroutines under gevent, say) is obeyed. Flask decides by
    :func:`inspect.iscoroutinefunction`, which misses objects with an
    ``async def __call__``; anysignal only ever passes receivers it knows to be
    coroutine receivers, so those go through ``app.async_to_sync`` instead of
    being called for a coroutine nobody awaits.
    """

    def wrap(receiver: Receiver) -> Receiver:
        wrapped = app.ensure_sync(receiver)
        return app.async_to_sync(receiver) if wrapped is receiver else wrapped

    return wrap


def _current_app(signal: Signal) -> Flask:
    if not has_app_context():
        msg = (
            f"cannot send {signal!r} with anysignal.flask.send(): no Flask app "
            "context is pushed. Send from a view, a request hook or a CLI command, "
            "or push one with 'with app.app_context():'. In a Quart app, use "
            "'await anysignal.quart.send(...)'."
        )
        raise NoAppContextError(msg)
    # Flask types current_app as Flask, but it is a werkzeug proxy; receivers
    # connected for the app must get the app itself.
    return t.cast("LocalProxy[Flask]", current_app)._get_current_object()


def _relay_into(neutral: Signal) -> Callable[..., None]:
    """Make the Flask receiver that re-sends its signal into ``neutral``."""

    def relay(app: Flask, **kwargs: t.Any) -> None:
        # The sender is the app: no need to hold it here, which would keep it alive.
        neutral.send(app, _async_wrapper=_run_to_completion(app), **kwargs)

    return relay


_RELAYS = tuple(
    (builtin, _relay_into(framework.signals[builtin.name]))
    for builtin in (
        flask_signals.template_rendered,
        flask_signals.before_render_template,
        flask_signals.request_started,
        flask_signals.request_finished,
        flask_signals.request_tearing_down,
        flask_signals.got_request_exception,
        flask_signals.appcontext_tearing_down,
        flask_signals.appcontext_pushed,
        flask_signals.appcontext_popped,
        flask_signals.message_flashed,
    )
)
"""Each Flask built-in signal, with the relay into its neutral twin."""
