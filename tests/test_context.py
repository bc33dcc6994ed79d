"""Context variables: what receivers see, and which changes come back."""

from __future__ import annotations

import contextvars
import functools
import typing as t

import anyio
import pytest

from anysignal import Signal

pytestmark = pytest.mark.anyio

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id")


def set_sync(sender: object) -> str:
    request_id.set("set by sync")
    return request_id.get()


async def set_async(sender: object) -> str:
    request_id.set("set by async")
    return request_id.get()


def read(sender: object) -> str:
    return request_id.get("unset")


def in_thread(
    func: t.Callable[..., t.Any],
) -> t.Callable[..., t.Awaitable[t.Any]]:
    async def wrapper(*args: t.Any, **kwargs: t.Any) -> t.Any:
        return await anyio.to_thread.run_sync(functools.partial(func, *args, **kwargs))

    return wrapper


async def test_an_async_receivers_change_is_seen_by_later_receivers_and_caller() -> (
    None
):
    sig = Signal()
    sig.connect(set_async)
    sig.connect(read)
    request_id.set("caller")
    results = await sig.send_async()
    assert [result for _, result in results] == ["set by async", "set by async"]
    assert request_id.get() == "set by async"


async def test_an_inline_sync_receivers_change_is_seen_too() -> None:
    sig = Signal()
    sig.connect(set_sync)
    sig.connect(read)
    request_id.set("caller")
    await sig.send_async()
    assert request_id.get() == "set by sync"


def test_send_runs_receivers_in_the_callers_context() -> None:
    sig = Signal()
    sig.connect(set_sync)
    sig.connect(read)

    def caller() -> list[str]:
        request_id.set("caller")
        results = [str(result) for _, result in sig.send()]
        return [*results, request_id.get()]

    assert contextvars.copy_context().run(caller) == ["set by sync"] * 3


async def test_a_sync_receiver_in_a_thread_sees_the_context_but_keeps_its_changes() -> (
    None
):
    sig = Signal()
    sig.connect(read)
    sig.connect(set_sync)
    request_id.set("caller")
    results = await sig.send_async(_sync_wrapper=in_thread)
    assert [result for _, result in results] == ["caller", "set by sync"]
    assert request_id.get() == "caller"


async def test_concurrent_receivers_see_the_context_but_keep_their_changes() -> None:
    sig = Signal()
    sig.connect(set_async)
    sig.connect(read)
    request_id.set("caller")
    results = await sig.send_concurrent(_limit=1)
    assert [result for _, result in results] == ["set by async", "caller"]
    assert request_id.get() == "caller"


async def test_threaded_sync_receivers_of_a_concurrent_send_see_the_context() -> None:
    sig = Signal()
    sig.connect(read)
    request_id.set("caller")
    assert [r for _, r in await sig.send_concurrent(_sync_in_thread=True)] == ["caller"]
