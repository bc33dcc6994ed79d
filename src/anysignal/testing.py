"""Helpers for testing code that sends signals, such as an extension's own tests.

:func:`record_sends` records every send of a signal made within a ``with``
block, whichever method or adapter made it, without changing what the send
does::

    with record_sends(record_saved) as sends:
        client.post("/notes/42")
    sends.assert_sent(app, record_id=42)

Recording replaces the signal's send methods on the instance for the duration
of the block, so signals cost nothing extra outside tests.

.. versionadded:: 0.1
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import sys
import typing as t
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from ._senders import ANY
from ._signal import Signal

__all__ = ["Send", "Sends", "record_sends"]

_SEND_METHODS = (
    "send",
    "send_async",
    "send_robust",
    "send_async_robust",
    "send_concurrent",
)


def _options(method: str) -> frozenset[str]:
    """Return a send method's own keyword options: what receivers do not get."""
    parameters = inspect.signature(getattr(Signal, method)).parameters.values()
    return frozenset(p.name for p in parameters if p.kind is p.KEYWORD_ONLY)


_OPTIONS = {method: _options(method) for method in _SEND_METHODS}


@dataclasses.dataclass(frozen=True)
class Send:
    """One recorded send."""

    signal: Signal
    """The signal that was sent."""
    sender: t.Any
    """The sender it was sent with."""
    kwargs: dict[str, t.Any]
    """The keyword arguments for receivers (without ``_async_wrapper`` and the
    other options)."""
    method: str
    """The :class:`~anysignal.Signal` method called, such as ``"send_async"``."""
    api: str
    """What the sending code called: ``"Signal.send_async"``, or an adapter
    such as ``"anysignal.quart.send"``."""

    def __str__(self) -> str:
        args = "".join(f", {name}={value!r}" for name, value in self.kwargs.items())
        return f"{self.api}({self.sender!r}{args})"


class Sends(list[Send]):
    """The sends recorded by :func:`record_sends`, oldest first."""

    def assert_sent(self, sender: t.Any = ANY, /, **kwargs: t.Any) -> Send:
        """Assert that a send matched, and return the first one that did.

        :param sender: The sender it had; :data:`~anysignal.ANY` matches any.
        :param kwargs: Keyword arguments it had, compared with ``==``; those
            not given are not compared.
        :raises AssertionError: None matched; the message lists what was sent.
        """
        for send in self:
            if _matches(send, sender, kwargs):
                return send
        raise AssertionError(self._report("a send", sender, kwargs))

    def assert_sent_once(self, sender: t.Any = ANY, /, **kwargs: t.Any) -> Send:
        """Assert that exactly one send matched, and return it.

        :param sender: As for :meth:`assert_sent`.
        :param kwargs: As for :meth:`assert_sent`.
        :raises AssertionError: None or several matched.
        """
        matching = [send for send in self if _matches(send, sender, kwargs)]
        if len(matching) != 1:
            raise AssertionError(
                self._report(
                    f"exactly one send, found {len(matching)}:", sender, kwargs
                )
            )
        return matching[0]

    def assert_not_sent(self) -> None:
        """Assert that nothing was sent.

        :raises AssertionError: Something was; the message lists it.
        """
        if self:
            raise AssertionError(self._report("no send", ANY, {}))

    def _report(self, expected: str, sender: t.Any, kwargs: dict[str, t.Any]) -> str:
        wanted = ", ".join(
            [*([] if sender is ANY else [f"sender={sender!r}"])]
            + [f"{name}={value!r}" for name, value in kwargs.items()]
        )
        sent = "\n".join(f"  {send}" for send in self) or "  (nothing)"
        return f"expected {expected} with {wanted or 'any arguments'}; sent:\n{sent}"


def _matches(send: Send, sender: t.Any, kwargs: dict[str, t.Any]) -> bool:
    if sender is not ANY and send.sender is not sender and send.sender != sender:
        return False
    return all(
        name in send.kwargs and send.kwargs[name] == value
        for name, value in kwargs.items()
    )


@contextmanager
def record_sends(signal: Signal) -> Iterator[Sends]:
    """Record every send of ``signal`` within a ``with`` block.

    Receivers still run as usual: recording only watches. Sends through
    :meth:`~anysignal.Signal.send`, :meth:`~anysignal.Signal.send_async`,
    the robust and concurrent sends, and the Flask and Quart adapters are all
    recorded, with the API that made them. A muted signal's sends are
    recorded too: the code under test did send.

    :param signal: The signal to watch. Blocks for the same signal may nest.
    :return: The list of :class:`Send` records, filled as sends happen.
    """
    sends = Sends()
    patched = {name: _recording(signal, name, sends) for name in _SEND_METHODS}
    previous = {name: vars(signal).get(name) for name in _SEND_METHODS}
    vars(signal).update(patched)
    try:
        yield sends
    finally:
        for name, method in previous.items():
            if method is None:
                del vars(signal)[name]
            else:
                vars(signal)[name] = method


def _recording(signal: Signal, name: str, sends: Sends) -> Callable[..., t.Any]:
    # The method in force when recording starts: the class's, or an outer
    # block's recorder, which then records too.
    method = getattr(signal, name)

    @functools.wraps(method)
    def record(sender: t.Any = None, /, *args: t.Any, **kwargs: t.Any) -> t.Any:
        payload = {k: v for k, v in kwargs.items() if k not in _OPTIONS[name]}
        caller = sys._getframe(1)  # only while recording: no cost otherwise
        api = _api(caller.f_globals.get("__name__", ""), caller.f_code.co_name, name)
        sends.append(Send(signal, sender, payload, name, api))
        return method(sender, *args, **kwargs)

    return record


def _api(module: str, function: str, method: str) -> str:
    """Name what sent: an anysignal adapter function, or the method itself."""
    if module.startswith("anysignal.") and module != __name__:
        return f"{module}.{function}"
    return f"Signal.{method}"
