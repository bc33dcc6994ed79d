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
import threading
import typing as t
from collections.abc import Awaitable, Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress

import anyio
from anyio.from_thread import BlockingPortal

from ._senders import ANY
from ._signal import Signal

__all__ = ["Send", "SendWaiter", "Sends", "record_sends", "wait_for_send"]

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
    with _recording_sends(signal, Sends(), None) as sends:
        yield sends


def wait_for_send(
    signal: Signal, sender: t.Any = ANY, /, *, timeout: float = 5.0, **kwargs: t.Any
) -> SendWaiter:
    """Wait, at the end of a ``with`` or ``async with`` block, for a send.

    The block does what should make ``signal`` be sent: a request, a task
    started, a message published to a relay. When the block ends, the waiter
    waits until a matching send, made since the block began, has returned (its
    receivers have run), or until ``timeout`` seconds have passed::

        with wait_for_send(record_saved, app, record_id=42) as waiter:
            worker.submit(save, 42)  # sends record_saved from another thread
        assert waiter.send.kwargs["table"] == "notes"

    In async code, ``async with`` waits without blocking the event loop, on
    asyncio and trio alike, for a send from a task or from another thread::

        async with wait_for_send(record_saved, timeout=2):
            await redis.publish(...)  # the relay re-sends it in this process

    A plain ``with`` blocks its thread: use it where no event loop runs there.
    A block that raises does not wait.

    :param signal: The signal to wait for. Its sends are recorded as
        :func:`record_sends` records them, from the start of the block.
    :param sender: The sender the send must have; by default
        :data:`~anysignal.ANY`, any.
    :param timeout: The most seconds to wait once the block has ended.
    :param kwargs: Keyword arguments the send must have, compared with ``==``.
    :raises TimeoutError: No matching send returned in time; the message lists
        what was sent.
    """
    return SendWaiter(signal, sender, timeout, kwargs)


class SendWaiter:
    """Made by :func:`wait_for_send`: a ``with`` or ``async with`` block."""

    def __init__(
        self, signal: Signal, sender: t.Any, timeout: float, kwargs: dict[str, t.Any]
    ) -> None:
        self.signal = signal
        self.timeout = timeout
        self.sends = Sends()
        """Every send of the signal since the block began, matching or not."""
        self.send: Send | None = None
        """The first matching send that returned; ``None`` until then."""
        self._sender = sender
        self._kwargs = kwargs
        self._stack = ExitStack()
        self._returned = threading.Event()
        # In an ``async with`` block: the event to set, the portal through
        # which other threads set it, and the event loop's thread.
        self._async: tuple[anyio.Event, BlockingPortal, int] | None = None

    def __enter__(self) -> SendWaiter:
        self._stack.enter_context(_recording_sends(self.signal, self.sends, self._done))
        return self

    def __exit__(self, *exc_info: object) -> None:
        with self._stack:
            if exc_info[0] is None and not self._returned.wait(self.timeout):
                raise TimeoutError(self._timed_out())

    async def __aenter__(self) -> SendWaiter:
        portal = BlockingPortal()
        await portal.__aenter__()
        self._async = (anyio.Event(), portal, threading.get_ident())
        return self.__enter__()

    async def __aexit__(self, *exc_info: t.Any) -> None:
        event, portal, _ = t.cast(
            "tuple[anyio.Event, BlockingPortal, int]", self._async
        )
        try:
            with self._stack:
                if exc_info[0] is None:
                    with anyio.move_on_after(self.timeout):
                        await event.wait()
                    if self.send is None:
                        raise TimeoutError(self._timed_out())
        finally:
            # Not the block's exception: the portal's task group would wrap it.
            await portal.__aexit__(None, None, None)

    def _done(self, send: Send) -> None:
        """Note that ``send`` has returned; runs in the sending thread."""
        if self.send is not None or not _matches(send, self._sender, self._kwargs):
            return
        self.send = send
        self._returned.set()
        if self._async is None:
            return
        event, portal, loop_thread = self._async
        if threading.get_ident() == loop_thread:
            event.set()
        else:
            with suppress(RuntimeError):  # the block has ended meanwhile
                portal.start_task_soon(event.set)

    def _timed_out(self) -> str:
        expected = f"a send of {self.signal!r} within {self.timeout}s"
        return self.sends._report(expected, self._sender, self._kwargs)


@contextmanager
def _recording_sends(
    signal: Signal, sends: Sends, done: Callable[[Send], None] | None
) -> Iterator[Sends]:
    """Record into ``sends``; call ``done`` with each send once it has returned."""
    patched = {name: _recording(signal, name, sends, done) for name in _SEND_METHODS}
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


def _recording(
    signal: Signal, name: str, sends: Sends, done: Callable[[Send], None] | None
) -> Callable[..., t.Any]:
    # The method in force when recording starts: the class's, or an outer
    # block's recorder, which then records too.
    method = getattr(signal, name)

    @functools.wraps(method)
    def record(sender: t.Any = None, /, *args: t.Any, **kwargs: t.Any) -> t.Any:
        payload = {k: v for k, v in kwargs.items() if k not in _OPTIONS[name]}
        caller = sys._getframe(1)  # only while recording: no cost otherwise
        api = _api(caller.f_globals.get("__name__", ""), caller.f_code.co_name, name)
        send = Send(signal, sender, payload, name, api)
        sends.append(send)
        if done is None:
            return method(sender, *args, **kwargs)
        try:
            result = method(sender, *args, **kwargs)
        except BaseException:
            done(send)
            raise
        if inspect.isawaitable(result):  # an async send: done once awaited
            return _then(result, done, send)
        done(send)
        return result

    return record


async def _then(
    awaitable: Awaitable[t.Any], done: Callable[[Send], None], send: Send
) -> t.Any:
    try:
        return await awaitable
    finally:
        done(send)


def _api(module: str, function: str, method: str) -> str:
    """Name what sent: an anysignal adapter function, or the method itself."""
    if module.startswith("anysignal.") and module != __name__:
        return f"{module}.{function}"
    return f"Signal.{method}"
