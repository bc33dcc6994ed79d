"""The exceptions anysignal raises, and the messages that explain them."""

from __future__ import annotations

import logging
import typing as t

if t.TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from ._snapshot import Snapshot


class AsyncReceiverError(RuntimeError):
    """A coroutine receiver was reached by :meth:`Signal.send` with no way to run it.

    It subclasses :class:`RuntimeError`, which blinker raises in the same case,
    so existing ``except RuntimeError`` blocks keep working.
    """


class ReceiverErrors(ExceptionGroup[Exception]):
    """The exceptions that receivers raised during one robust send.

    Raised by :meth:`Signal.send_robust` and :meth:`Signal.send_async_robust`
    with ``_raise_group=True``, once every receiver has been called. The
    exceptions are in connection order; each carries a note naming its receiver.

    .. versionadded:: 0.1
    """

    results: list[tuple[Callable[..., t.Any], t.Any]]
    """The whole ``[(receiver, result), ...]`` list of the send, in which a
    failed receiver's result is its exception."""

    def __new__(
        cls,
        message: str,
        exceptions: Sequence[Exception],
        results: list[tuple[Callable[..., t.Any], t.Any]] | None = None,
    ) -> t.Self:
        self = super().__new__(cls, message, exceptions)
        self.results = [] if results is None else results
        return self

    def derive(self, excs: Sequence[Exception]) -> ReceiverErrors:  # type: ignore[override]
        # Keeps the type and the results when the group is split or subgrouped;
        # typeshed's overloads also admit BaseExceptions, which split() of a
        # group of Exceptions never passes.
        return ReceiverErrors(self.message, excs, self.results)


# -- the messages of the errors above, and of the signal's own -------------

_logger = logging.getLogger("anysignal")


def refuse_async(signal: object, snapshot: Snapshot) -> None:
    """Raise :class:`AsyncReceiverError` if ``snapshot`` has a live coroutine receiver.

    :meth:`Signal.send` calls it before any receiver runs, when it was given
    no ``_async_wrapper``.
    """
    for receiver, is_async in snapshot.live():
        if is_async:
            msg = (
                f"{receiver!r} is a coroutine receiver of {signal!r}, and send() "
                "cannot await it. Use 'await signal.send_async(...)', or pass "
                "_async_wrapper= (such as Flask's app.ensure_sync) to send()."
            )
            raise AsyncReceiverError(msg)


def robust_outcome(
    signal: object,
    results: list[tuple[Callable[..., t.Any], t.Any]],
    failures: list[tuple[Callable[..., t.Any], Exception]],
    *,
    raise_group: bool,
) -> list[tuple[Callable[..., t.Any], t.Any]]:
    """Return a robust send's results, or raise its failures as a group."""
    if failures and raise_group:
        for receiver, exc in failures:
            exc.add_note(f"raised by receiver {receiver!r} of {signal!r}")
        msg = f"{len(failures)} receiver(s) of {signal!r} raised"
        raise ReceiverErrors(msg, [exc for _, exc in failures], results)
    log_failures(signal, failures)
    return results


def log_failures(
    signal: object, failures: list[tuple[Callable[..., t.Any], Exception]]
) -> None:
    """Log each receiver's exception on the ``anysignal`` logger, by name."""
    for receiver, exc in failures:
        name = getattr(receiver, "__qualname__", None) or repr(receiver)
        _logger.error(
            "receiver %s of %r raised",
            name,
            signal,
            exc_info=(type(exc), exc, exc.__traceback__),
        )


def reentered_error(signal: object, operation: str) -> RuntimeError:
    """Return the error for a call that would wait for its own thread's lock.

    Only code run in the middle of one of the signal's own changes can make
    one: a finalizer (``__del__``) or weak reference callback, run by the
    garbage collector or by a last reference dropped during the change.
    """
    msg = (
        f"cannot {operation} {signal!r} now: this thread is in the middle of "
        "changing that signal, so this call comes from a finalizer (__del__) "
        "that the garbage collector ran meanwhile, and it would wait for "
        "itself forever. Do not use signals in __del__: receivers held weakly "
        "(the default) disconnect by themselves when they die."
    )
    return RuntimeError(msg)


def positional_error(method: str, args: tuple[object, ...]) -> TypeError:
    """Return the error for extra positional arguments to a send method."""
    msg = (
        f"{method}() takes the sender as its only positional argument, but "
        f"{len(args)} more were given: {args!r}. Pass them as keyword arguments, "
        f"for example {method}(sender, value=...)."
    )
    return TypeError(msg)
