"""Concurrent dispatch: every receiver of one send in a task of one task group."""

from __future__ import annotations

import functools
import math
import typing as t

import anyio

if t.TYPE_CHECKING:
    from ._receivers import Receiver
    from ._snapshot import Snapshot


async def run_concurrently(
    snapshot: Snapshot,
    sender: object,
    kwargs: dict[str, t.Any],
    *,
    limit: int | None,
    sync_in_thread: bool,
) -> list[tuple[Receiver, t.Any]]:
    """Run ``snapshot``'s receivers concurrently; see :meth:`Signal.send_concurrent`.

    The task group lives inside this call, in the caller's task: a failure
    cancels the other receivers and surfaces as an ``ExceptionGroup``, and the
    caller's cancellation reaches every receiver.
    """
    # Taken before any receiver runs: a receiver that dies meanwhile still
    # finishes, as it would have in a sequential send that had reached it.
    getters = snapshot.getters
    calls = [
        (index, receiver, is_async)
        for index, (get, is_async) in enumerate(
            zip(getters, snapshot.async_flags, strict=True)
        )
        if (receiver := get()) is not None
    ]
    results: list[tuple[Receiver, t.Any] | None] = [None] * len(getters)
    limiter = anyio.CapacityLimiter(math.inf if limit is None else limit)

    async def run(index: int, receiver: Receiver, is_async: bool) -> None:
        async with limiter:
            # Read from the list, not kept: a change while this call waited for
            # the limiter puts a rechecking getter there (see _snapshot).
            if getters[index]() is None:
                return
            if is_async:
                result = await receiver(sender, **kwargs)
            elif sync_in_thread:
                call = functools.partial(receiver, sender, **kwargs)
                result = await anyio.to_thread.run_sync(call)
            else:
                result = receiver(sender, **kwargs)
            results[index] = (receiver, result)

    async with anyio.create_task_group() as group:
        for index, receiver, is_async in calls:
            group.start_soon(run, index, receiver, is_async)
    return [pair for pair in results if pair is not None]
