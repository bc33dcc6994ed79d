"""Async: cancellation at every await point, and many tasks sending at once.

Every test here runs on asyncio and on trio (see ``anyio_backend`` in conftest).
"""

from __future__ import annotations

import typing as t

import anyio
import anyio.lowlevel
import pytest

from anysignal import Signal

from .helpers import assert_no_bookkeeping

pytestmark = pytest.mark.anyio

AWAITS_PER_RECEIVER = 2


class Stepper:
    """Async receivers whose awaits are numbered; one of them can cancel the send."""

    def __init__(self) -> None:
        self.awaits = 0
        self.cancel_at = -1
        self.scope: anyio.CancelScope | None = None
        self.calls: list[str] = []
        self.finished: list[str] = []

    def receiver(self, name: str) -> t.Callable[..., t.Awaitable[str]]:
        async def receive(sender: object, **kwargs: object) -> str:
            self.calls.append(name)
            for _ in range(AWAITS_PER_RECEIVER):
                if self.awaits == self.cancel_at:
                    assert self.scope is not None
                    self.scope.cancel()
                self.awaits += 1
                await anyio.lowlevel.checkpoint()
            self.finished.append(name)
            return name

        receive.__name__ = name
        return receive


async def test_cancellation_at_every_await_point_leaves_the_signal_consistent() -> None:
    sig = Signal()
    stepper = Stepper()
    names = ["a", "b", "c"]
    receivers = [stepper.receiver(name) for name in names]
    sync_calls: list[str] = []

    def inline(sender: object, **kwargs: object) -> str:
        sync_calls.append("inline")
        return "inline"

    sig.connect(receivers[0])
    sig.connect(inline)
    sig.connect(receivers[1], sender="s")
    sig.connect(receivers[2])
    order = [receivers[0], inline, receivers[1], receivers[2]]
    total = AWAITS_PER_RECEIVER * len(names)
    for cancel_at in range(total):
        stepper.awaits, stepper.cancel_at = 0, cancel_at
        stepper.calls.clear()
        stepper.finished.clear()
        with anyio.CancelScope() as scope:
            stepper.scope = scope
            await sig.send_async("s")
            pytest.fail("send_async returned despite the cancellation")
        assert scope.cancelled_caught
        # The receiver that was awaiting stopped there; none after it ran.
        stopped = names[cancel_at // AWAITS_PER_RECEIVER]
        assert stepper.calls == names[: names.index(stopped) + 1]
        assert stepper.finished == names[: names.index(stopped)]
        # The signal is as it was, and the next send runs everyone.
        assert list(sig.receivers_for("s")) == order
        assert sig._table.dead == []
        stepper.cancel_at = -1
        assert await sig.send_async("s") == [(r, r.__name__) for r in order]
    for receiver in receivers:
        sig.disconnect(receiver)
    sig.disconnect(inline)
    assert_no_bookkeeping(sig)


async def test_a_cancelled_send_async_leaves_later_sends_by_other_tasks_alone() -> None:
    sig = Signal()
    gate = anyio.Event()
    calls: list[str] = []

    async def blocking(sender: object) -> str:
        calls.append(f"blocking {sender}")
        if sender == "cancelled":
            await anyio.sleep_forever()
        await gate.wait()
        return "blocking"

    def after(sender: object) -> str:
        calls.append(f"after {sender}")
        return "after"

    sig.connect(blocking)
    sig.connect(after)
    results: list[object] = []
    async with anyio.create_task_group() as tg:
        doomed = anyio.CancelScope()

        async def cancelled_send() -> None:
            with doomed:
                await sig.send_async("cancelled")

        async def normal_send() -> None:
            results.extend(await sig.send_async("normal"))

        tg.start_soon(cancelled_send)
        tg.start_soon(normal_send)
        await anyio.wait_all_tasks_blocked()
        doomed.cancel()
        await anyio.wait_all_tasks_blocked()
        gate.set()
    assert results == [(blocking, "blocking"), (after, "after")]
    assert "after cancelled" not in calls


class Churner:
    """A receiver that a mutator task connects and disconnects.

    It checks, each time it is called, that it is connected now, and that its
    current connection is older than the send that calls it.
    """

    def __init__(self, name: str, clock: list[int]) -> None:
        self.name = name
        self.clock = clock
        self.connected_at: int | None = None
        self.calls = 0

    async def __call__(self, sender: object, started: int) -> str:
        assert self.connected_at is not None, f"{self.name} called while disconnected"
        assert self.connected_at < started, f"{self.name} connected during the send"
        self.calls += 1
        await anyio.lowlevel.checkpoint()
        return self.name


@pytest.mark.stress
async def test_many_tasks_sending_while_others_connect_and_disconnect(
    stress_seconds: float,
) -> None:
    sig = Signal()
    clock = [0]

    def tick() -> int:
        clock[0] += 1
        return clock[0]

    stable_calls: list[int] = []

    async def stable(sender: object, started: int) -> str:
        stable_calls.append(started)
        await anyio.lowlevel.checkpoint()
        return "stable"

    def stable_sync(sender: object, started: int) -> str:
        return "stable-sync"

    sig.connect(stable)
    sig.connect(stable_sync, sender="s")
    churners = [Churner(f"churn-{i}", clock) for i in range(4)]
    sends = [0]

    async def mutate(mine: list[Churner]) -> None:
        with anyio.move_on_after(stress_seconds):
            round_ = 0
            while True:
                round_ += 1
                for churner in mine:
                    if churner.connected_at is None:
                        sig.connect(churner, sender="s" if round_ % 2 else sig.ANY)
                        churner.connected_at = tick()
                    else:
                        sig.disconnect(churner)
                        churner.connected_at = None
                        tick()
                    await anyio.lowlevel.checkpoint()

    async def send(sender: str) -> None:
        with anyio.move_on_after(stress_seconds):
            while True:
                started = tick()
                results = await sig.send_async(sender, started=started)
                names = [result for _, result in results]
                expected_head = (
                    ["stable", "stable-sync"] if sender == "s" else ["stable"]
                )
                assert names[: len(expected_head)] == expected_head
                rest = names[len(expected_head) :]
                assert len(rest) == len(set(rest))
                assert all(name.startswith("churn-") for name in rest)
                sends[0] += 1

    async with anyio.create_task_group() as tg:
        tg.start_soon(mutate, churners[:2])
        tg.start_soon(mutate, churners[2:])
        for sender in ("s", "t", "s", "t"):
            tg.start_soon(send, sender)
    assert sends[0] > 0
    # Each send that finished called ``stable`` once; the four that the time
    # limit cancelled may have called it too.
    assert sends[0] <= len(stable_calls) <= sends[0] + 4
    for churner in churners:
        sig.disconnect(churner)
    assert [r for r, _ in await sig.send_async("s", started=tick())] == [
        stable,
        stable_sync,
    ]
    sig.disconnect(stable)
    sig.disconnect(stable_sync)
    assert_no_bookkeeping(sig)


async def test_a_receiver_disconnected_while_a_send_is_suspended_is_skipped() -> None:
    sig = Signal()
    paused, resume = anyio.Event(), anyio.Event()
    calls: list[str] = []

    async def pauses(sender: object) -> str:
        paused.set()
        await resume.wait()
        return "pauses"

    async def victim(sender: object) -> str:
        calls.append("victim")
        return "victim"

    sig.connect(pauses)
    sig.connect(victim)
    results: list[object] = []
    async with anyio.create_task_group() as tg:

        async def run() -> None:
            results.extend(await sig.send_async())

        tg.start_soon(run)
        await paused.wait()
        sig.disconnect(victim)
        late = sig.connect(victim)
        resume.set()
    # Disconnected, then connected again during the send: a new connection,
    # which runs from the next send on.
    assert results == [(pauses, "pauses")]
    assert calls == []
    assert late is victim
    paused, resume = anyio.Event(), anyio.Event()
    resume.set()
    assert await sig.send_async() == [(pauses, "pauses"), (victim, "victim")]


async def test_muted_applies_to_every_task_of_the_signal() -> None:
    sig = Signal()

    async def receiver(sender: object) -> str:
        return "r"

    sig.connect(receiver)
    entered, leave = anyio.Event(), anyio.Event()
    seen: list[object] = []

    async def mute() -> None:
        with sig.muted():
            entered.set()
            await leave.wait()

    async with anyio.create_task_group() as tg:
        tg.start_soon(mute)
        await entered.wait()
        seen.append(await sig.send_async())
        leave.set()
    seen.append(await sig.send_async())
    assert seen == [[], [(receiver, "r")]]
