"""send_concurrent: receivers run at once, in a task group inside the call."""

from __future__ import annotations

import threading

import anyio
import pytest

from anysignal import Signal

from .helpers import Boom, Recorder

pytestmark = pytest.mark.anyio


async def test_receivers_run_at_the_same_time() -> None:
    sig = Signal()
    both_started = anyio.Event()
    started = []

    async def waiter(sender: object, **kwargs: object) -> str:
        started.append(kwargs["name"])
        if len(started) == 2:
            both_started.set()
        await both_started.wait()  # deadlocks unless the two run concurrently
        return "done"

    sig.connect(waiter, weak=False)

    async def other(sender: object, **kwargs: object) -> str:
        return await waiter(sender, **kwargs)

    sig.connect(other, weak=False)
    with anyio.fail_after(5):
        results = await sig.send_concurrent(name="x")
    assert [result for _, result in results] == ["done", "done"]


async def test_results_come_back_in_connection_order() -> None:
    sig = Signal()

    async def slow(sender: object) -> str:
        await anyio.sleep(0.02)
        return "slow"

    async def fast(sender: object) -> str:
        return "fast"

    sig.connect(slow)
    sig.connect(fast)
    assert await sig.send_concurrent() == [(slow, "slow"), (fast, "fast")]


async def test_the_limit_caps_how_many_run_at_once() -> None:
    sig = Signal()
    running = peak = 0

    async def counted(sender: object) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await anyio.sleep(0.01)
        running -= 1

    for _ in range(6):

        async def receiver(sender: object) -> None:
            await counted(sender)

        sig.connect(receiver, weak=False)  # six distinct functions
    await sig.send_concurrent(_limit=2)
    assert peak == 2


async def test_a_failure_cancels_the_others_and_raises_a_group() -> None:
    sig = Signal()
    cancelled = []

    async def waits(sender: object) -> None:
        try:
            await anyio.sleep_forever()
        finally:
            cancelled.append(True)

    async def explode(sender: object) -> None:
        await anyio.sleep(0)
        raise Boom

    sig.connect(waits)
    sig.connect(explode)
    with anyio.fail_after(5), pytest.RaisesGroup(Boom):
        await sig.send_concurrent()
    assert cancelled == [True]


async def test_cancelling_the_caller_cancels_every_receiver() -> None:
    sig = Signal()
    cancelled = []

    async def waits(sender: object, **kwargs: object) -> None:
        try:
            await anyio.sleep_forever()
        finally:
            cancelled.append(kwargs)

    async def waits_too(sender: object, **kwargs: object) -> None:
        await waits(sender, **kwargs)

    sig.connect(waits)
    sig.connect(waits_too)
    with anyio.move_on_after(0.02) as scope:
        await sig.send_concurrent()
    assert scope.cancelled_caught
    assert len(cancelled) == 2


async def test_sync_receivers_run_inline_by_default() -> None:
    sig = Signal()
    threads = []

    def sync(sender: object) -> None:
        threads.append(threading.current_thread())

    sig.connect(sync)
    await sig.send_concurrent()
    assert threads == [threading.current_thread()]


async def test_sync_receivers_run_in_worker_threads_when_asked() -> None:
    sig = Signal()
    threads = []

    def sync(sender: object) -> None:
        threads.append(threading.current_thread())

    sig.connect(sync)
    await sig.send_concurrent(_sync_in_thread=True)
    assert threads
    assert threads[0] is not threading.current_thread()


async def test_a_receiver_disconnected_before_its_turn_is_skipped() -> None:
    sig = Signal()
    rec = Recorder()
    victim = rec.async_("victim")

    async def disconnector(sender: object) -> None:
        sig.disconnect(victim)
        rec.calls.append("disconnected")

    sig.connect(disconnector)
    sig.connect(victim)
    for _ in range(20):  # trio starts tasks in random order: see both orders
        rec.calls.clear()
        results = await sig.send_concurrent(_limit=1)
        # Whichever started first, the victim never runs after its disconnection.
        assert rec.calls in (["disconnected"], ["victim", "disconnected"])
        assert [r for r, _ in results] == [
            receiver
            for receiver, name in ((disconnector, "disconnected"), (victim, "victim"))
            if name in rec.calls
        ]
        sig.connect(victim)


@pytest.mark.parametrize("limit", [0, -1, 1.5, "2"], ids=repr)
async def test_a_bad_limit_is_refused(limit: object) -> None:
    sig = Signal()
    with pytest.raises(ValueError, match="_limit must be a positive int"):
        await sig.send_concurrent(_limit=limit)  # type: ignore[arg-type]


async def test_a_muted_signal_runs_nothing_concurrently() -> None:
    sig = Signal()
    rec = Recorder()
    sig.connect(rec.async_("r"), weak=False)
    with sig.muted():
        assert await sig.send_concurrent() == []
    assert rec.calls == []
