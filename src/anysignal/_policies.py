"""Dispatch policies: the robust and concurrent sends of :class:`Signal`.

They live apart from the plain sends in :mod:`anysignal._signal`, as they do on
the Policies page: each changes one thing about a send (errors collected, or
receivers run at once) and keeps the rest, order included.
"""

from __future__ import annotations

import typing as t

from ._concurrent import run_concurrently
from ._errors import log_failures, positional_error, refuse_async, robust_outcome
from ._loops import AWAIT_EACH_ROBUST, CALL_EACH_ROBUST, Failures
from ._receivers import AsyncWrapper, Receiver, SyncWrapper

if t.TYPE_CHECKING:
    from ._snapshot import Snapshot

Results: t.TypeAlias = list[tuple[Receiver, t.Any]]


class DispatchPolicies:
    """The robust and concurrent send methods, for :class:`Signal` to inherit."""

    __slots__ = ()

    if t.TYPE_CHECKING:  # provided by Signal
        receivers: dict[int, t.Any]
        _mute_depth: int

        def _snapshot_for(self, sender: object) -> Snapshot: ...

    def send_robust(
        self,
        sender: t.Any = None,
        /,
        *args: t.Never,
        _async_wrapper: AsyncWrapper | None = None,
        _raise_group: bool = False,
        **kwargs: t.Any,
    ) -> Results:
        """Call every receiver of ``sender``, even when some raise.

        As :meth:`send`, except that an :class:`Exception` raised by a receiver
        does not stop the send: it becomes that receiver's result (as in
        Django's ``send_robust``), and the next receiver is called. A
        :class:`BaseException` that is not an :class:`Exception`, such as
        :exc:`KeyboardInterrupt`, still propagates at once.

        :param sender: As for :meth:`send`.
        :param _async_wrapper: As for :meth:`send`.
        :param _raise_group: Once every receiver has been called, raise a
            :class:`ReceiverErrors` group of the exceptions, if any, instead of
            logging them. For callers that must not swallow errors, such as
            teardown code that still needs every receiver to run.
        :param kwargs: Passed to every receiver.
        :return: ``[(receiver, result_or_exception), ...]`` in the order
            receivers ran. Each exception is also logged on the ``anysignal``
            logger, with the receiver's name, unless ``_raise_group`` is true.
        :raises ReceiverErrors: ``_raise_group`` is true and receivers raised.

        .. versionadded:: 0.1
        """
        if args:
            raise positional_error("send_robust", args)
        if not self.receivers or self._mute_depth:
            return []
        snapshot = self._snapshot_for(sender)
        if snapshot.has_async and _async_wrapper is None:
            refuse_async(self, snapshot)
        failures: Failures = []
        try:
            results = CALL_EACH_ROBUST.compile(tuple(kwargs))(
                snapshot, sender, kwargs, _async_wrapper, failures
            )
        except BaseException:
            log_failures(self, failures)  # what was caught is not lost
            raise
        return robust_outcome(self, results, failures, raise_group=_raise_group)

    async def send_async_robust(
        self,
        sender: t.Any = None,
        /,
        *args: t.Never,
        _sync_wrapper: SyncWrapper | None = None,
        _raise_group: bool = False,
        **kwargs: t.Any,
    ) -> Results:
        """Await every receiver of ``sender``, even when some raise.

        As :meth:`send_async`, with the error handling of :meth:`send_robust`.
        Cancellation is never caught: it stops the send at once.

        :param sender: As for :meth:`send`.
        :param _sync_wrapper: As for :meth:`send_async`.
        :param _raise_group: As for :meth:`send_robust`.
        :param kwargs: Passed to every receiver.
        :return: As for :meth:`send_robust`.
        :raises ReceiverErrors: ``_raise_group`` is true and receivers raised.

        .. versionadded:: 0.1
        """
        if args:
            raise positional_error("send_async_robust", args)
        if not self.receivers or self._mute_depth:
            return []
        snapshot = self._snapshot_for(sender)
        failures: Failures = []
        try:
            results = await AWAIT_EACH_ROBUST.compile(tuple(kwargs))(
                snapshot, sender, kwargs, _sync_wrapper, failures
            )
        except BaseException:
            log_failures(self, failures)
            raise
        return robust_outcome(self, results, failures, raise_group=_raise_group)

    async def send_concurrent(
        self,
        sender: t.Any = None,
        /,
        *args: t.Never,
        _limit: int | None = None,
        _sync_in_thread: bool = False,
        **kwargs: t.Any,
    ) -> Results:
        """Run every receiver of ``sender`` at once, in a task group of the caller.

        Each receiver gets a task of an anyio task group opened inside this
        call, so everything happens within the caller's task: no background
        task, no global loop. The results still come back in order (priority,
        then connection order).

        If a receiver raises, the others are cancelled and the exceptions are
        raised together as an :class:`ExceptionGroup`, as anyio task groups do.
        If the caller is cancelled, every receiver is cancelled with it. Each
        task runs in a copy of the caller's context: receivers see the caller's
        context variables, and changes they make stay their own.

        :param sender: As for :meth:`send`.
        :param _limit: At most this many receivers run at once; by default, all.
        :param _sync_in_thread: Run sync receivers in worker threads
            (:func:`anyio.to_thread.run_sync`) instead of inline, on the event
            loop. Use it for sync receivers that block.
        :param kwargs: Passed to every receiver.
        :return: ``[(receiver, result), ...]`` in order.
        :raises ExceptionGroup: Receivers raised.

        .. versionadded:: 0.1
        """
        if args:
            raise positional_error("send_concurrent", args)
        if _limit is not None and (type(_limit) is not int or _limit < 1):
            msg = f"_limit must be a positive int or None, not {_limit!r}"
            raise ValueError(msg)
        if not self.receivers or self._mute_depth:
            return []
        return await run_concurrently(
            self._snapshot_for(sender),
            sender,
            kwargs,
            limit=_limit,
            sync_in_thread=_sync_in_thread,
        )
