"""anysignal.testing: recording sends, and waiting for them, in an extension's tests."""

from __future__ import annotations

import threading
import time
import typing as t

import anyio
import pytest

from anysignal import Signal
from anysignal.testing import record_sends, wait_for_send

from .helpers import Boom, Recorder, explode


@pytest.fixture
def sig() -> Signal:
    return Signal()


def test_every_send_in_the_block_is_recorded(sig: Signal) -> None:
    with record_sends(sig) as sends:
        sig.send("app", record_id=1)
        sig.send_robust("app", record_id=2, _raise_group=False)
    assert [(s.sender, s.kwargs, s.method, s.api) for s in sends] == [
        ("app", {"record_id": 1}, "send", "Signal.send"),
        ("app", {"record_id": 2}, "send_robust", "Signal.send_robust"),
    ]


@pytest.mark.anyio
async def test_async_sends_are_recorded(sig: Signal) -> None:
    with record_sends(sig) as sends:
        await sig.send_async("app", x=1)
        await sig.send_async_robust("app", x=2)
        await sig.send_concurrent("app", x=3)
    assert [s.method for s in sends] == [
        "send_async",
        "send_async_robust",
        "send_concurrent",
    ]


def test_receivers_still_run_while_recording(sig: Signal) -> None:
    rec = Recorder()
    receiver = rec.sync("r")
    sig.connect(receiver)
    with record_sends(sig):
        assert sig.send("app") == [(receiver, "r")]


def test_sends_after_the_block_are_not_recorded(sig: Signal) -> None:
    with record_sends(sig) as sends:
        pass
    sig.send("app")
    sends.assert_not_sent()
    assert "send" not in vars(sig)


def test_blocks_nest(sig: Signal) -> None:
    with record_sends(sig) as outer:
        sig.send(1)
        with record_sends(sig) as inner:
            sig.send(2)
        sig.send(3)
    assert [s.sender for s in outer] == [1, 2, 3]
    assert [s.sender for s in inner] == [2]


def test_assert_sent_finds_a_matching_send(sig: Signal) -> None:
    with record_sends(sig) as sends:
        sig.send("app", record_id=7, user="ada")
    assert sends.assert_sent("app", record_id=7).kwargs["user"] == "ada"
    sends.assert_sent(record_id=7)
    sends.assert_sent_once("app")


def test_assert_sent_explains_what_was_sent_instead(sig: Signal) -> None:
    with record_sends(sig) as sends:
        sig.send("app", record_id=7)
    with pytest.raises(AssertionError) as info:
        sends.assert_sent("app", record_id=8)
    assert str(info.value) == (
        "expected a send with sender='app', record_id=8; sent:\n"
        "  Signal.send('app', record_id=7)"
    )


def test_assert_sent_once_counts(sig: Signal) -> None:
    with record_sends(sig) as sends:
        sig.send("app")
        sig.send("app")
    with pytest.raises(AssertionError, match="exactly one send, found 2"):
        sends.assert_sent_once("app")


def test_assert_not_sent_lists_the_sends(sig: Signal) -> None:
    with record_sends(sig) as sends:
        sig.send("app", x=1)
    with pytest.raises(AssertionError, match=r"expected no send .*\n  Signal.send"):
        sends.assert_not_sent()


def test_nothing_sent_is_said_plainly(sig: Signal) -> None:
    with record_sends(sig) as sends:
        pass
    with pytest.raises(AssertionError, match=r"any arguments; sent:\n  \(nothing\)"):
        sends.assert_sent()


def test_sends_of_a_muted_signal_are_recorded(sig: Signal) -> None:
    with record_sends(sig) as sends, sig.muted():
        sig.send("app")
    sends.assert_sent_once("app")


def test_only_the_methods_own_options_are_left_out_of_kwargs(sig: Signal) -> None:
    with record_sends(sig) as sends:
        sig.send("app", _trace=1, _async_wrapper=None)
        sig.send_robust("app", _raise_group=False, _trace=2)
    assert [s.kwargs for s in sends] == [{"_trace": 1}, {"_trace": 2}]
    sends.assert_sent(_trace=1)


# -- wait_for_send ------------------------------------------------------------


def send_later(sig: Signal, sender: object = "app", /, **kwargs: t.Any) -> None:
    """Send ``sig`` from another thread, a moment from now."""

    def send() -> None:
        time.sleep(0.02)
        sig.send(sender, **kwargs)

    threading.Thread(target=send, daemon=True).start()


def test_a_with_block_waits_for_a_send_from_another_thread(sig: Signal) -> None:
    with wait_for_send(sig, "app", record_id=1, timeout=5) as waiter:
        send_later(sig, record_id=1, table="notes")
    assert waiter.send is not None
    assert waiter.send.kwargs == {"record_id": 1, "table": "notes"}


def test_the_wait_ends_once_the_receivers_have_run(sig: Signal) -> None:
    ran = []

    def slow(sender: object, **kwargs: object) -> None:
        time.sleep(0.05)
        ran.append(sender)

    sig.connect(slow)
    with wait_for_send(sig, timeout=5):
        send_later(sig)
    assert ran == ["app"]


def test_a_send_that_does_not_match_does_not_end_the_wait(sig: Signal) -> None:
    with wait_for_send(sig, "app", record_id=2, timeout=5) as waiter:
        sig.send("other", record_id=2)
        sig.send("app", record_id=1)
        send_later(sig, record_id=2)
    assert [(s.sender, s.kwargs) for s in waiter.sends] == [
        ("other", {"record_id": 2}),
        ("app", {"record_id": 1}),
        ("app", {"record_id": 2}),
    ]


def test_a_send_before_the_block_does_not_count(sig: Signal) -> None:
    sig.send("app")
    with pytest.raises(TimeoutError), wait_for_send(sig, timeout=0.01):
        pass


def test_a_timeout_says_what_was_sent(sig: Signal) -> None:
    with (
        pytest.raises(TimeoutError) as error,
        wait_for_send(sig, "app", record_id=7, timeout=0.01),
    ):
        sig.send("app", record_id=42)
    assert str(error.value) == (
        f"expected a send of {sig!r} within 0.01s with sender='app', record_id=7; "
        "sent:\n  Signal.send('app', record_id=42)"
    )


def test_a_block_that_raises_does_not_wait(sig: Signal) -> None:
    started = time.monotonic()
    with pytest.raises(ValueError, match="boom"), wait_for_send(sig, timeout=30):
        raise ValueError("boom")
    assert time.monotonic() - started < 5
    assert "send" not in vars(sig)


def test_a_send_that_raises_still_ends_the_wait(sig: Signal) -> None:
    sig.connect(explode)
    with wait_for_send(sig, timeout=5) as waiter, pytest.raises(Boom):
        sig.send("app")
    assert waiter.send is not None


@pytest.mark.anyio
async def test_an_async_with_block_waits_for_a_send_from_a_task(sig: Signal) -> None:
    async def send_soon() -> None:
        await anyio.sleep(0.01)
        await sig.send_async("app", record_id=3)

    async with (
        anyio.create_task_group() as tasks,
        wait_for_send(sig, "app", timeout=5) as waiter,
    ):
        tasks.start_soon(send_soon)
    assert waiter.send is not None
    assert waiter.send.method == "send_async"


@pytest.mark.anyio
async def test_an_async_with_block_waits_for_a_send_from_another_thread(
    sig: Signal,
) -> None:
    async with wait_for_send(sig, "app", record_id=4, timeout=5) as waiter:
        send_later(sig, record_id=4)
    assert waiter.send is not None


@pytest.mark.anyio
async def test_an_async_wait_ends_once_the_async_receivers_have_run(
    sig: Signal,
) -> None:
    ran = []

    async def slow(sender: object, **kwargs: object) -> None:
        await anyio.sleep(0.02)
        ran.append(sender)

    sig.connect(slow)

    async with anyio.create_task_group() as tasks:
        async with wait_for_send(sig, timeout=5):
            tasks.start_soon(sig.send_async, "app")
        assert ran == ["app"]


@pytest.mark.anyio
async def test_an_async_timeout_raises_timeout_error(sig: Signal) -> None:
    with pytest.raises(TimeoutError, match=r"within 0\.01s"):
        async with wait_for_send(sig, timeout=0.01):
            pass
    assert "send_async" not in vars(sig)


@pytest.mark.anyio
async def test_an_async_block_that_raises_raises_its_own_exception(
    sig: Signal,
) -> None:
    with pytest.raises(ValueError, match="boom"):
        async with wait_for_send(sig, timeout=30):
            raise ValueError("boom")
