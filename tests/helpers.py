"""Receivers that record their calls, shared by the tests."""

from __future__ import annotations

import typing as t

from anysignal import Signal


class Recorder:
    """Makes named receivers that append their name to one shared call log."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def sync(self, name: str) -> t.Callable[..., str]:
        def receiver(sender: object, **kwargs: object) -> str:
            self.calls.append(name)
            return name

        receiver.__name__ = receiver.__qualname__ = name
        return receiver

    def async_(self, name: str) -> t.Callable[..., t.Awaitable[str]]:
        async def receiver(sender: object, **kwargs: object) -> str:
            self.calls.append(name)
            return name

        receiver.__name__ = receiver.__qualname__ = name
        return receiver


def assert_no_bookkeeping(sig: Signal) -> None:
    """Assert that nothing of any past connection is left in ``sig``'s tables."""
    assert not sig.receivers
    assert sig._table.is_empty()


def run_threads(
    targets: t.Sequence[t.Callable[[], None]], timeout: float
) -> list[BaseException]:
    """Run each target in a daemon thread; fail if any is still alive at ``timeout``.

    Returns the exceptions the targets raised. A thread still running after
    ``timeout`` seconds (a deadlock, most likely) fails the test with the stacks
    of the stuck threads, instead of hanging the run.
    """
    import sys
    import threading
    import time
    import traceback

    errors: list[BaseException] = []
    start = threading.Barrier(len(targets))

    def run(target: t.Callable[[], None]) -> None:
        try:
            start.wait(timeout)
            target()
        except BaseException as exc:  # reported to the test
            errors.append(exc)

    threads = [
        threading.Thread(target=run, args=(target,), daemon=True) for target in targets
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    stuck = [thread for thread in threads if thread.is_alive()]
    if stuck:
        frames = sys._current_frames()
        stacks = "\n".join(
            "".join(traceback.format_stack(frames[thread.ident]))
            for thread in stuck
            if thread.ident in frames
        )
        raise AssertionError(
            f"{len(stuck)} thread(s) still running after {timeout}s:\n{stacks}"
        )
    return errors


def table_state(sig: Signal) -> tuple[object, ...]:
    """A copy of ``sig``'s connection tables, to check that a call changed nothing."""
    return (
        dict(sig.receivers),
        {key: dict(connections) for key, connections in sig._table.by_sender.items()},
        dict(sig._table.held),
        list(sig._table.dead),
        {key: tuple(record.senders) for key, record in sig.receivers.items()},
    )


class Boom(Exception):
    """What the receivers below raise."""


def explode(sender: object, **kwargs: object) -> None:
    raise Boom(sender)


async def explode_async(sender: object, **kwargs: object) -> None:
    raise Boom(sender)
