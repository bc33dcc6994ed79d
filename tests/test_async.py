"""Async receivers are known at connect time; send() refuses them.

See the Semantics page, sections "Sync and async receivers" and "Async receivers
and plain ``send``".
"""

from __future__ import annotations

import functools
import gc
import inspect
import sys
import typing as t
import warnings

import anyio
import pytest

from anysignal import AsyncReceiverError, Signal

from .helpers import Recorder


async def coroutine_function(sender: object, **kwargs: object) -> str:
    return "coroutine function"


def sync_function(sender: object, **kwargs: object) -> str:
    return "sync function"


class Service:
    async def handler(self, sender: object, **kwargs: object) -> str:
        return "bound async method"

    def sync_handler(self, sender: object, **kwargs: object) -> str:
        return "bound sync method"


class AsyncCallable:
    async def __call__(self, sender: object, **kwargs: object) -> str:
        return "async __call__"


class SyncCallable:
    def __call__(self, sender: object, **kwargs: object) -> str:
        return "sync __call__"


def async_receivers() -> list[t.Callable[..., t.Any]]:
    return [
        coroutine_function,
        Service().handler,
        functools.partial(coroutine_function),
        AsyncCallable(),
        functools.partial(AsyncCallable()),
    ]


@pytest.mark.parametrize("make", range(5))
@pytest.mark.anyio
async def test_every_kind_of_async_receiver_is_awaited(make: int) -> None:
    sig = Signal()
    receiver = async_receivers()[make]
    sig.connect(receiver, weak=False)
    [(_, result)] = await sig.send_async()
    assert isinstance(result, str)


@pytest.mark.parametrize("make", range(5))
def test_every_kind_of_async_receiver_is_refused_by_send(make: int) -> None:
    sig = Signal()
    receiver = async_receivers()[make]
    sig.connect(receiver, weak=False)
    with pytest.raises(AsyncReceiverError):
        sig.send()


@pytest.mark.anyio
async def test_sync_receivers_of_every_kind_run_inline_in_send_async() -> None:
    sig = Signal()
    service = Service()
    receivers: list[t.Callable[..., str]] = [
        SyncCallable(),
        service.sync_handler,
        functools.partial(sync_function),
    ]
    for receiver in receivers:
        sig.connect(receiver, weak=False)
    results = await sig.send_async()
    assert [result for _, result in results] == [
        "sync __call__",
        "bound sync method",
        "sync function",
    ]


def test_async_receiver_error_is_a_runtime_error_naming_the_receiver() -> None:
    sig = Signal()
    sig.connect(coroutine_function)
    with pytest.raises(RuntimeError, match="coroutine_function") as info:
        sig.send()
    assert isinstance(info.value, AsyncReceiverError)
    assert "send_async" in str(info.value)
    assert "_async_wrapper" in str(info.value)


def test_send_refuses_before_any_receiver_runs() -> None:
    sig = Signal()
    rec = Recorder()
    sig.connect(rec.sync("first"))
    sig.connect(coroutine_function)
    with pytest.raises(AsyncReceiverError):
        sig.send()
    assert rec.calls == []


def test_refused_send_creates_no_coroutine() -> None:
    sig = Signal()
    sig.connect(coroutine_function)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "coroutine ... was never awaited"
        with pytest.raises(AsyncReceiverError):
            sig.send()
        gc.collect()


def test_send_runs_async_receivers_through_the_async_wrapper() -> None:
    sig = Signal()
    sig.connect(coroutine_function)

    def run_to_completion(
        func: t.Callable[..., t.Coroutine[t.Any, t.Any, t.Any]],
    ) -> t.Callable[..., t.Any]:
        def wrapper(*args: t.Any, **kwargs: t.Any) -> t.Any:
            return anyio.run(functools.partial(func, *args, **kwargs))

        return wrapper

    assert sig.send("s", _async_wrapper=run_to_completion) == [
        (coroutine_function, "coroutine function")
    ]


@pytest.mark.anyio
async def test_send_async_runs_sync_receivers_through_the_sync_wrapper() -> None:
    sig = Signal()
    rec = Recorder()
    receiver = rec.sync("sync")
    sig.connect(receiver)
    wrapped = []

    def in_thread(func: t.Callable[..., t.Any]) -> t.Callable[..., t.Awaitable[t.Any]]:
        async def wrapper(*args: t.Any, **kwargs: t.Any) -> t.Any:
            wrapped.append(func)
            return await anyio.to_thread.run_sync(
                functools.partial(func, *args, **kwargs)
            )

        return wrapper

    assert await sig.send_async("s", _sync_wrapper=in_thread) == [(receiver, "sync")]
    assert wrapped == [receiver]


@pytest.mark.anyio
async def test_async_receivers_are_awaited_one_after_another() -> None:
    sig = Signal()
    events: list[str] = []

    async def slow(sender: object) -> None:
        events.append("slow start")
        await anyio.sleep(0.01)
        events.append("slow end")

    async def fast(sender: object) -> None:
        events.append("fast")

    sig.connect(slow)
    sig.connect(fast)
    await sig.send_async()
    assert events == ["slow start", "slow end", "fast"]


@pytest.mark.anyio
async def test_keyword_arguments_reach_every_receiver() -> None:
    sig = Signal()
    seen = []

    async def receiver(sender: object, **kwargs: object) -> None:
        seen.append((sender, kwargs))

    sig.connect(receiver)
    await sig.send_async("s", a=1, b="two")
    assert seen == [("s", {"a": 1, "b": "two"})]


def test_async_detection_happens_at_connect_time() -> None:
    sig = Signal()

    class Chameleon:
        async def __call__(self, sender: object) -> None:
            """Turns sync after connecting: the receiver stays known as async."""

    def sync_call(self: Chameleon, sender: object) -> str:
        return "sync now"

    chameleon = Chameleon()
    sig.connect(chameleon)
    Chameleon.__call__ = sync_call  # type: ignore[method-assign,assignment]
    with pytest.raises(AsyncReceiverError):
        sig.send()


def test_a_function_marked_as_coroutine_function_is_an_async_receiver() -> None:
    if sys.version_info >= (3, 12):
        mark = inspect.markcoroutinefunction
    else:  # Python 3.11: the asyncio marker, as asgiref sets it
        mark = pytest.importorskip("asgiref.sync").markcoroutinefunction

    async def work(sender: object) -> str:
        return "marked"

    def returns_a_coroutine(sender: object) -> t.Awaitable[str]:
        return work(sender)

    sig = Signal()
    sig.connect(mark(returns_a_coroutine))
    with pytest.raises(AsyncReceiverError):
        sig.send()


@pytest.mark.anyio
async def test_a_decorated_async_function_is_an_async_receiver() -> None:
    def logged(
        func: t.Callable[..., t.Awaitable[str]],
    ) -> t.Callable[..., t.Awaitable[str]]:
        @functools.wraps(func)
        async def wrapper(*args: object) -> str:
            return "logged " + await func(*args)

        return wrapper

    @logged
    async def receiver(sender: object) -> str:
        return "receiver"

    sig = Signal()
    sig.connect(receiver)
    assert [result for _, result in await sig.send_async()] == ["logged receiver"]
