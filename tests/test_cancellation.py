"""Cancelling send_async propagates and leaves the signal working.

See the Semantics page, "Cancellation".
"""

from __future__ import annotations

import anyio
import pytest

from anysignal import Signal

from .helpers import Recorder


@pytest.mark.anyio
async def test_cancellation_while_a_receiver_awaits_stops_the_send() -> None:
    sig = Signal()
    rec = Recorder()
    started = anyio.Event()

    async def waits_forever(sender: object) -> None:
        rec.calls.append("waiting")
        started.set()
        await anyio.sleep_forever()

    later = rec.async_("later")
    sig.connect(waits_forever)
    sig.connect(later)
    async with anyio.create_task_group() as tg:
        tg.start_soon(sig.send_async)
        await started.wait()
        tg.cancel_scope.cancel()
    assert rec.calls == ["waiting"]


@pytest.mark.anyio
async def test_cancellation_propagates_out_of_send_async() -> None:
    sig = Signal()

    async def waits_forever(sender: object) -> None:
        await anyio.sleep_forever()

    sig.connect(waits_forever)
    with anyio.move_on_after(0.01) as scope:
        await sig.send_async()
        pytest.fail("send_async returned despite the cancellation")
    assert scope.cancelled_caught


@pytest.mark.anyio
async def test_the_signal_works_normally_after_a_cancelled_send() -> None:
    sig = Signal()
    rec = Recorder()

    async def slow(sender: object) -> str:
        await anyio.sleep(sender)  # type: ignore[arg-type]
        return "slow"

    after = rec.async_("after")
    sig.connect(slow)
    sig.connect(after)
    with anyio.move_on_after(0.01):
        await sig.send_async(60)
    assert await sig.send_async(0) == [(slow, "slow"), (after, "after")]
    assert len(sig.receivers) == 2
