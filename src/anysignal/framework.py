"""What Flask and Quart extensions share, importable with neither installed.

An extension that supports both frameworks defines its signals and receivers
once, in a module that must import neither Flask nor Quart: Flask users do not
install Quart, and Quart users do not install Flask. This module gives that
module what it needs:

- the neutral built-in signals (:data:`request_finished` and the others), one
  object per event whatever the framework, into which
  :func:`anysignal.flask.relay_builtin_signals` and
  :func:`anysignal.quart.relay_builtin_signals` relay the frameworks' own;
- :func:`inline`, which lets a cheap sync receiver skip the worker thread that
  :func:`anysignal.quart.send` would otherwise run it in;
- :class:`NoAppContextError`, raised by both adapters outside an app context.
"""

from __future__ import annotations

import typing as t
from collections.abc import Callable

from ._namespace import Namespace
from ._receivers import is_async_callable

F = t.TypeVar("F", bound=Callable[..., t.Any])

_INLINE_MARK = "__anysignal_inline__"


class NoAppContextError(RuntimeError):
    """An adapter's ``send`` was called with no Flask or Quart app context pushed.

    The adapters take the sender and the way to run receivers from the current
    app, so they need one. It subclasses :class:`RuntimeError`, as does the
    error Flask and Quart raise when ``current_app`` is used outside a context.
    """


def inline(receiver: F) -> F:
    """Mark a sync receiver as safe to call inline, on the event loop.

    :func:`anysignal.quart.send` runs sync receivers through the app's
    ``ensure_async``, in a worker thread, because a sync receiver may block
    (on a database, a file, a lock). A receiver that only does quick work in
    memory, such as counting or appending to a list, is faster called directly;
    mark it with this decorator. Returns ``receiver`` unchanged but marked,
    so it works on a function before :meth:`~anysignal.Signal.connect`::

        @record_saved.connect_via(ANY)
        @inline
        def count(sender, **kwargs):
            counts[sender] += 1

    The mark only matters to senders that would run a sync receiver elsewhere:
    :meth:`~anysignal.Signal.send` and :meth:`~anysignal.Signal.send_async`
    call sync receivers inline anyway. Decorate the function in the class body
    to mark a method; a :func:`functools.wraps` wrapper keeps the mark.

    :param receiver: A sync function or other callable that accepts attributes.
    :raises TypeError: ``receiver`` is a coroutine receiver, which always runs
        on the event loop, or cannot be given an attribute.
    """
    if is_async_callable(receiver):
        msg = (
            f"cannot mark {receiver!r} inline: it is a coroutine receiver, which "
            "already runs on the event loop. Use @inline on sync receivers only."
        )
        raise TypeError(msg)
    try:
        setattr(receiver, _INLINE_MARK, True)
    except (AttributeError, TypeError):
        msg = (
            f"cannot mark {receiver!r} inline: it does not accept attributes. "
            "Mark the function it calls, or wrap it in a plain function and mark that."
        )
        raise TypeError(msg) from None
    return receiver


def is_inline(receiver: Callable[..., t.Any]) -> bool:
    """Tell whether ``receiver`` was marked with :func:`inline`.

    :param receiver: A connected receiver; a bound method reports its function's mark.
    """
    return getattr(receiver, _INLINE_MARK, False) is True


signals: Namespace = Namespace()
"""The namespace of the neutral built-in signals, by their Flask and Quart names."""

# The names are the frameworks' own: the adapters find a framework signal's
# neutral twin by the framework signal's name.

template_rendered = signals.signal(
    "template-rendered",
    "A template was rendered. Keyword arguments: ``template``, ``context``.",
)
before_render_template = signals.signal(
    "before-render-template",
    "A template is about to be rendered. Keyword arguments: ``template``, ``context``.",
)
request_started = signals.signal(
    "request-started",
    "A request context was pushed, before the request is dispatched.",
)
request_finished = signals.signal(
    "request-finished",
    "A response was made for a request. Keyword arguments: ``response``.",
)
request_tearing_down = signals.signal(
    "request-tearing-down",
    "A request context is being torn down. Keyword arguments: ``exc``.",
)
got_request_exception = signals.signal(
    "got-request-exception",
    "A request raised an exception, before error handling. Keyword arguments: "
    "``exception``.",
)
appcontext_tearing_down = signals.signal(
    "appcontext-tearing-down",
    "An app context is being torn down. Keyword arguments: ``exc``.",
)
appcontext_pushed = signals.signal(
    "appcontext-pushed",
    "An app context was pushed.",
)
appcontext_popped = signals.signal(
    "appcontext-popped",
    "An app context was popped.",
)
message_flashed = signals.signal(
    "message-flashed",
    "A message was flashed. Keyword arguments: ``message``, ``category``.",
)

# Quart only: Flask has no websockets, background tasks or serving hooks.

websocket_started = signals.signal(
    "websocket-started",
    "Quart only: a websocket context was pushed, before the websocket is dispatched.",
)
websocket_finished = signals.signal(
    "websocket-finished",
    "Quart only: a websocket handler finished. Keyword arguments: ``response``.",
)
websocket_tearing_down = signals.signal(
    "websocket-tearing-down",
    "Quart only: a websocket context is being torn down. Keyword arguments: ``exc``.",
)
websocket_received = signals.signal(
    "websocket-received",
    "Quart only: a websocket message arrived. The sender is the message "
    "(``str`` or ``bytes``), not an app, and no app context is pushed.",
)
websocket_sent = signals.signal(
    "websocket-sent",
    "Quart only: a websocket message was sent. The sender is the message "
    "(``str`` or ``bytes``), not an app.",
)
got_websocket_exception = signals.signal(
    "got-websocket-exception",
    "Quart only: a websocket handler raised an exception. Keyword arguments: "
    "``exception``.",
)
got_background_exception = signals.signal(
    "got-background-exception",
    "Quart only: a background task raised an exception. Keyword arguments: "
    "``exception``.",
)
got_serving_exception = signals.signal(
    "got-serving-exception",
    "Quart only: a before- or after-serving function raised an exception. "
    "Keyword arguments: ``exception``.",
)

__all__ = [
    "NoAppContextError",
    "appcontext_popped",
    "appcontext_pushed",
    "appcontext_tearing_down",
    "before_render_template",
    "got_background_exception",
    "got_request_exception",
    "got_serving_exception",
    "got_websocket_exception",
    "inline",
    "is_inline",
    "message_flashed",
    "request_finished",
    "request_started",
    "request_tearing_down",
    "signals",
    "template_rendered",
    "websocket_finished",
    "websocket_received",
    "websocket_sent",
    "websocket_started",
    "websocket_tearing_down",
]
