"""Send anysignal signals from a Quart app, and relay Quart's built-in signals.

Needs the ``quart`` extra (``pip install anysignal[quart]``). :mod:`anysignal`
itself never imports this module, so Quart stays optional.
"""

from __future__ import annotations

import os
import signal as os_signal
import threading
import typing as t
from typing import TYPE_CHECKING

import anyio.to_thread
from quart import Quart, current_app, has_app_context
from quart import signals as quart_signals
from quart.utils import run_sync

from . import framework
from ._adapters import connect_builtin_relays
from .framework import NoAppContextError, is_inline

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from werkzeug.local import LocalProxy

    from ._namespace import NamedSignal
    from ._receivers import Receiver, SyncWrapper
    from ._signal import Signal
    from .relay import Origin, Relay


__all__ = ["NoAppContextError", "init_relay", "relay_builtin_signals", "send"]


async def send(
    signal: Signal, sender: object = None, /, **kwargs: t.Any
) -> list[tuple[Receiver, t.Any]]:
    """Send ``signal`` from within the current Quart app, request or websocket context.

    Receivers run one after another, in connection order, never concurrently;
    an exception from one propagates at once. Coroutine receivers are awaited.
    Sync receivers run through the current app's :meth:`~quart.Quart.ensure_async`:
    in a worker thread, with a copy of the context, so that a blocking receiver
    does not stall the event loop and ``current_app``, ``request``, ``websocket``
    and ``g`` still work inside it. A sync receiver marked with
    :func:`anysignal.framework.inline` is called on the event loop instead.

    :param signal: The signal to send, such as one from the extension's
        :class:`~anysignal.Namespace`.
    :param sender: The object sending; by default the current app itself (the
        real :class:`~quart.Quart` object, not the ``current_app`` proxy, so that
        receivers connected for the app match).
    :param kwargs: Passed to every receiver.
    :return: ``[(receiver, result), ...]``, as :meth:`~anysignal.Signal.send_async`.
    :raises NoAppContextError: No Quart app context is pushed.
    """
    app = _current_app(signal)
    return await signal.send_async(
        app if sender is None else sender,
        _sync_wrapper=_sync_wrapper(app.ensure_async),
        **kwargs,
    )


def init_relay(app: Quart, relay: Relay) -> None:
    """Let ``relay`` deliver remote events to ``app`` while it serves.

    The relay listens in Quart's ``while_serving``. Each remote event is
    re-sent in an app context of ``app``, with
    :meth:`~anysignal.Signal.send_async_robust`, sync receivers running
    through ``app.ensure_async`` (or inline, when marked with
    :func:`anysignal.framework.inline`) as with :func:`send`. When the app
    stops serving (a server's graceful shutdown), the relay stops listening,
    publishes what is still queued and stops its publishing thread; a
    SIGTERM that comes meanwhile takes effect once it has, or after 10 s, or
    at a second SIGTERM (hypercorn sends one to a worker still stopping). The
    relay is stored as ``app.extensions["anysignal.relay"]``. Each worker
    process runs ``while_serving`` itself, so a relay made at import time or
    before a fork listens in every worker.

    :param app: The app whose lifespan the listener follows.
    :param relay: The process's :class:`~anysignal.relay.Relay`.
    """
    sync_wrapper = _sync_wrapper(app.ensure_async)

    async def deliver(
        signal: NamedSignal, origin: Origin, kwargs: dict[str, t.Any]
    ) -> None:
        async with app.app_context():
            await signal.send_async_robust(origin, _sync_wrapper=sync_wrapper, **kwargs)

    @app.while_serving
    async def relay_while_serving() -> t.AsyncGenerator[None, None]:
        held = False
        try:
            async with relay.listening(deliver):
                yield
                # hypercorn's main process sends SIGTERM to its other workers
                # as soon as one has stopped, which kills a worker still
                # stopping: that signal waits until the relay has stopped.
                held = _SIGTERM_HOLD.acquire()
            # A server's graceful shutdown ends here: publish what is queued
            # and stop the publishing thread, so that no thread outlives
            # serving. A later send (the app serving again) starts a new one.
            await anyio.to_thread.run_sync(relay.stop_publishing)
        finally:
            if held:
                _SIGTERM_HOLD.release()

    app.extensions["anysignal.relay"] = relay


_HOLD_LIMIT = 10.0
"""Seconds a SIGTERM waits at most for relays to stop: one that hangs (a
receiver that never returns) must not keep a worker alive."""


class _SigtermHold:
    """Holds SIGTERM back while relays stop, then delivers it if it came.

    Shared by every app of the process, and counted, so that two apps
    stopping together put the handler back once, when both have stopped. A
    second SIGTERM, or the first after :data:`_HOLD_LIMIT`, takes effect at
    once. Only in the main thread, where Python runs signal handlers, and
    only over a handler set from Python: another could not be put back. A
    handler set with asyncio's ``loop.add_signal_handler`` still sees the
    signal at once, through its wake-up file descriptor.
    """

    def __init__(self) -> None:
        self._holders = 0
        self._previous: t.Any = None
        self._came = False
        self._limit: threading.Timer | None = None

    def acquire(self) -> bool:
        """Hold SIGTERM back; return whether it is held (then :meth:`release`)."""
        if threading.current_thread() is not threading.main_thread():
            return False
        if not self._holders:
            previous = os_signal.getsignal(os_signal.SIGTERM)
            if previous is None:
                return False
            self._previous, self._came = previous, False
            os_signal.signal(os_signal.SIGTERM, self._note)
        self._holders += 1
        return True

    def release(self) -> None:
        """End one hold; after the last, deliver the signal if it came."""
        self._holders -= 1
        if not self._holders:
            self._restore()

    def _note(self, signum: int, frame: object) -> None:
        if self._came:
            self._restore()
            return
        self._came = True
        self._limit = threading.Timer(
            _HOLD_LIMIT, os.kill, (os.getpid(), os_signal.SIGTERM)
        )
        self._limit.daemon = True
        self._limit.start()

    def _restore(self) -> None:
        if self._limit is not None:
            self._limit.cancel()
            self._limit = None
        if os_signal.getsignal(os_signal.SIGTERM) == self._note:
            os_signal.signal(os_signal.SIGTERM, self._previous)
        if self._came:
            self._came = False
            os_signal.raise_signal(os_signal.SIGTERM)


_SIGTERM_HOLD = _SigtermHold()


def relay_builtin_signals(app: Quart) -> None:
    """Re-send ``app``'s Quart built-in signals into :mod:`anysignal.framework`'s.

    After this call, each time Quart sends, say, :data:`quart.request_finished`
    for ``app``, :data:`anysignal.framework.request_finished` is awaited with
    the same sender (``app``) and keyword arguments, its sync receivers run as
    :func:`send` runs them. A receiver on the neutral signal then serves Quart
    and Flask apps alike.

    Quart sends ``websocket_received`` and ``websocket_sent`` with the message
    as the sender, and ``websocket_received`` outside any app context, so they
    cannot be told apart by app: they are relayed for every Quart app in the
    process once any app is relayed. Their sync receivers run in a worker thread
    too (where Quart itself would fail on them), through the current app's
    ``ensure_async`` when an app context is pushed.

    Calling it again for the same app does nothing. The relays hold ``app``
    weakly, as Quart's signals do: relaying never keeps an app alive.

    :param app: The app whose built-in signals to relay.
    """
    connect_builtin_relays(app, _APP_RELAYS, _MESSAGE_RELAYS)


def _current_app(signal: Signal) -> Quart:
    if not has_app_context():
        msg = (
            f"cannot send {signal!r} with anysignal.quart.send(): no Quart app "
            "context is pushed. Send from a view, a websocket handler, a request "
            "hook or a CLI command, or push one with "
            "'async with app.app_context():'. In a Flask app, use "
            "anysignal.flask.send(...)."
        )
        raise NoAppContextError(msg)
    # Quart types current_app as Quart, but it is a werkzeug proxy; receivers
    # connected for the app must get the app itself.
    return t.cast("LocalProxy[Quart]", current_app)._get_current_object()


def _sync_wrapper(to_async: SyncWrapper) -> SyncWrapper:
    """Make the ``_sync_wrapper``: marked receivers inline, others via ``to_async``."""

    def wrap(receiver: Receiver) -> Callable[..., Awaitable[t.Any]]:
        return _inline(receiver) if is_inline(receiver) else to_async(receiver)

    return wrap


def _inline(receiver: Receiver) -> Callable[..., Awaitable[t.Any]]:
    async def call_inline(sender: object, /, **kwargs: t.Any) -> t.Any:
        return receiver(sender, **kwargs)

    return call_inline


def _relay_app_signal(neutral: Signal) -> Callable[..., Awaitable[None]]:
    """Make the Quart receiver that re-sends its app's signal into ``neutral``."""

    # A coroutine function: Quart's send_async awaits it as it is.
    async def relay(app: Quart, **kwargs: t.Any) -> None:
        # The sender is the app: no need to hold it here, which would keep it alive.
        await neutral.send_async(
            app, _sync_wrapper=_sync_wrapper(app.ensure_async), **kwargs
        )

    return relay


def _relay_message_signal(neutral: Signal) -> Callable[..., Awaitable[None]]:
    """Make the Quart receiver that re-sends a websocket message into ``neutral``."""

    # Quart sends these without a _sync_wrapper, so its blinker refuses any sync
    # receiver; a coroutine relay is accepted, and runs the neutral signal's sync
    # receivers off the loop itself.
    async def relay(message: str | bytes, **kwargs: t.Any) -> None:
        to_async = current_app.ensure_async if has_app_context() else run_sync
        await neutral.send_async(
            message, _sync_wrapper=_sync_wrapper(to_async), **kwargs
        )

    return relay


_APP_RELAYS = tuple(
    (builtin, _relay_app_signal(framework.signals[builtin.name]))
    for builtin in (
        quart_signals.template_rendered,
        quart_signals.before_render_template,
        quart_signals.request_started,
        quart_signals.request_finished,
        quart_signals.request_tearing_down,
        quart_signals.got_request_exception,
        quart_signals.appcontext_tearing_down,
        quart_signals.appcontext_pushed,
        quart_signals.appcontext_popped,
        quart_signals.message_flashed,
        quart_signals.websocket_started,
        quart_signals.websocket_finished,
        quart_signals.websocket_tearing_down,
        quart_signals.got_websocket_exception,
        quart_signals.got_background_exception,
        quart_signals.got_serving_exception,
    )
)
"""Each Quart built-in signal sent by an app, with the relay into its neutral twin."""

_MESSAGE_RELAYS = tuple(
    (builtin, _relay_message_signal(framework.signals[builtin.name]))
    for builtin in (quart_signals.websocket_received, quart_signals.websocket_sent)
)
"""Quart's websocket message signals, sent by no app, with their relays."""
