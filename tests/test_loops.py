"""The send loops compiled per set of keyword names (anysignal._loops)."""

from __future__ import annotations

import traceback
import typing as t

import pytest

from anysignal import Signal, _loops


def echo(sender: object, **kwargs: object) -> dict[str, object]:
    return kwargs


async def echo_async(sender: object, **kwargs: object) -> dict[str, object]:
    return kwargs


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"x": 1},
        {"b": 2, "a": 1},
        {"not an identifier": 1, "x": 2},
        {"class": 1},
        {"kwargs": 1, "dispatch": 2, "signal": 3, "v0": 4, "results": 5},
        {"\ufb01": 1, "fi": 2},
        {"\uff49\uff46": 1},
        {"__debug__": 1},
    ],
    ids=[
        "none",
        "one",
        "two",
        "not-identifier",
        "keyword",
        "loop-locals",
        "not-normalized",
        "normalizes-to-keyword",
        "debug",
    ],
)
def test_every_keyword_reaches_the_receivers_unchanged(
    kwargs: dict[str, object],
) -> None:
    sig = Signal()
    sig.connect(echo)
    sig.connect(echo_async)
    results = sig.send("s", _async_wrapper=lambda f: echo, **kwargs)
    assert [result for _, result in results] == [kwargs, kwargs]


@pytest.mark.anyio
async def test_send_async_passes_every_keyword_too() -> None:
    sig = Signal()
    sig.connect(echo)
    sig.connect(echo_async)
    kwargs: dict[str, t.Any] = {"x": 1, "not an identifier": 2}
    results = await sig.send_async("s", **kwargs)
    assert [result for _, result in results] == [kwargs, kwargs]


@pytest.mark.parametrize("mixed", [False, True])
def test_names_that_are_not_identifiers_share_the_generic_loop(mixed: bool) -> None:
    generic = _loops.SEND.loop(("**",), mixed=mixed)
    assert _loops.SEND.loop(("a b",), mixed=mixed) is generic
    assert ("a b",) not in _loops.SEND.uniform
    assert ("a b",) not in _loops.SEND.mixed


def test_one_loop_is_compiled_per_kind_and_set_of_names() -> None:
    kinds: list[_loops.LoopKind[t.Any]] = [
        _loops.SEND,
        _loops.SEND_ASYNC,
        _loops.SEND_ROBUST,
    ]
    loops = [
        kind.loop(("x", "y"), mixed=mixed) for kind in kinds for mixed in (False, True)
    ]
    assert loops == [
        kind.loop(("x", "y"), mixed=mixed) for kind in kinds for mixed in (False, True)
    ]
    assert len(set(loops)) == 2 * len(kinds)


def test_past_the_limit_new_names_use_the_generic_loop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kind = _loops.LoopKind("send", is_async=False, robust=False)
    monkeypatch.setattr(_loops, "_MAX_LOOPS", 2)
    kind.loop(("a",), mixed=False)
    kind.loop(("b",), mixed=False)
    assert kind.loop(("c",), mixed=False) is kind.loop(("**",), mixed=False)
    assert set(kind.uniform) == {("a",), ("b",), ("**",)}


def explode(sender: object, **kwargs: object) -> t.NoReturn:
    raise LookupError(kwargs)


async def explode_async(sender: object, **kwargs: object) -> t.NoReturn:
    raise LookupError(kwargs)


def frame_names(exc: BaseException) -> list[str]:
    return [frame.name for frame in traceback.extract_tb(exc.__traceback__)]


@pytest.mark.parametrize("receivers", [1, 3])
def test_a_receiver_traceback_goes_from_send_to_the_receiver(receivers: int) -> None:
    sig = Signal()
    for _ in range(receivers - 1):
        sig.connect(echo)
    sig.connect(explode)
    with pytest.raises(LookupError) as info:
        sig.send("s", x=1)
    assert frame_names(info.value)[-2:] == ["send", "explode"]


@pytest.mark.anyio
async def test_an_async_receiver_traceback_goes_from_send_async_to_it() -> None:
    sig = Signal()
    sig.connect(echo)
    sig.connect(explode_async)
    with pytest.raises(LookupError) as info:
        await sig.send_async("s", x=1)
    assert frame_names(info.value)[-2:] == ["send_async", "explode_async"]


@pytest.mark.anyio
async def test_a_lone_async_receiver_traceback_goes_from_send_async_to_it() -> None:
    sig = Signal()
    sig.connect(explode_async)
    with pytest.raises(LookupError) as info:
        await sig.send_async("s", x=1)
    assert frame_names(info.value)[-2:] == ["send_async", "explode_async"]


def test_the_async_wrapper_never_reaches_a_lone_sync_receiver() -> None:
    sig = Signal()
    sig.connect(echo)
    assert sig.send("s", _async_wrapper=lambda f: f, x=1) == [(echo, {"x": 1})]


@pytest.mark.anyio
@pytest.mark.parametrize(
    "kwargs", [{"x": 1}, {"not an identifier": 1}], ids=["compiled", "generic"]
)
async def test_the_sync_wrapper_never_reaches_a_receiver(
    kwargs: dict[str, t.Any],
) -> None:
    sig = Signal()
    sig.connect(echo_async)
    results = await sig.send_async("s", _sync_wrapper=lambda f: f, **kwargs)
    assert results == [(echo_async, kwargs)]
