"""The exceptions anysignal raises."""

from __future__ import annotations

import typing as t

if t.TYPE_CHECKING:
    from collections.abc import Callable, Sequence


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
