"""The send loops compiled per set of keyword names (anysignal._loops)."""

from __future__ import annotations

import inspect
import linecache
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


ALL_LOOPS: list[_loops.CompiledLoops[t.Any]] = [
    _loops.CALL_EACH,
    _loops.CALL_EACH_MIXED,
    _loops.CALL_EACH_ROBUST,
    _loops.AWAIT_EACH,
    _loops.AWAIT_EACH_MIXED,
    _loops.AWAIT_EACH_ROBUST,
]


@pytest.mark.parametrize("loops", ALL_LOOPS, ids=lambda loops: loops.loop.__name__)
def test_names_that_are_not_identifiers_use_the_loop_as_written(
    loops: _loops.CompiledLoops[t.Any],
) -> None:
    assert loops.compile(("a b",)) is loops.loop
    assert ("a b",) not in loops.copies


def test_one_copy_is_compiled_per_loop_and_set_of_names() -> None:
    copies = [loops.compile(("x", "y")) for loops in ALL_LOOPS]
    assert copies == [loops.compile(("x", "y")) for loops in ALL_LOOPS]
    assert len(set(copies)) == len(ALL_LOOPS)
    assert not any(
        copy is loops.loop for copy, loops in zip(copies, ALL_LOOPS, strict=True)
    )


def test_past_the_limit_new_names_use_the_loop_as_written(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    loops = _loops.CompiledLoops(_loops.call_each)
    monkeypatch.setattr(_loops, "MAX_COMPILED", 2)
    loops.compile(("a",))
    loops.compile(("b",))
    assert loops.compile(("c",)) is _loops.call_each
    assert set(loops.copies) == {("a",), ("b",)}


def test_a_compiled_copy_is_the_loop_with_the_names_written_in() -> None:
    copy = _loops.CompiledLoops(_loops.call_each).compile(("user", "extra"))
    source = "".join(linecache.getlines(copy.__code__.co_filename))
    reads = "    v0 = kwargs['user']\n    v1 = kwargs['extra']\n"
    expected = "from __future__ import annotations\n" + inspect.getsource(
        _loops.call_each
    ).replace("    results = []\n", reads + "    results = []\n").replace(
        "(sender, **kwargs)", "(sender, user=v0, extra=v1)"
    )
    assert source == expected


def refuses_keywords(sender: object) -> None:
    pass


def test_an_error_in_a_compiled_loop_shows_its_source_line() -> None:
    sig = Signal()
    sig.connect(echo)
    sig.connect(refuses_keywords)
    with pytest.raises(TypeError) as info:
        sig.send("s", unexpected=1)
    last = traceback.extract_tb(info.value.__traceback__)[-1]
    assert last.filename.startswith("<anysignal loop call_each(unexpected)")
    assert last.line == "results.append((receiver, receiver(sender, unexpected=v0)))"


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


def ok(sender: object, **kwargs: object) -> str:
    return "ok"


async def ok_async(sender: object, **kwargs: object) -> str:
    return "ok async"


def fails(sender: object, **kwargs: object) -> t.NoReturn:
    raise LookupError(sender)


def gone(sender: object, **kwargs: object) -> str:
    return "never called"


def walked_snapshot(*receivers: t.Callable[..., object]) -> t.Any:
    """A snapshot of ``receivers`` plus one that left after it was taken."""
    sig = Signal()
    for receiver in (*receivers, gone):
        sig.connect(receiver)
    snapshot = sig._snapshot_for(None)
    sig.disconnect(gone)  # its getter now gives None: the loop must skip it
    return snapshot


def to_async_wrapper(receiver: t.Callable[..., object]) -> t.Callable[..., object]:
    async def wrapped(sender: object, **kwargs: object) -> object:
        return receiver(sender, **kwargs)

    return wrapped


def to_sync_wrapper(receiver: t.Callable[..., object]) -> t.Callable[..., object]:
    return lambda sender, **kwargs: "ran to completion"


SYNC_LOOP_CASES = [
    pytest.param(_loops.CALL_EACH, (ok,), (), id="call_each"),
    pytest.param(
        _loops.CALL_EACH_MIXED, (ok, ok_async), (to_sync_wrapper,), id="mixed"
    ),
    pytest.param(
        _loops.CALL_EACH_ROBUST, (ok, fails, ok_async), (to_sync_wrapper,), id="robust"
    ),
]


@pytest.mark.parametrize(("loops", "receivers", "extra"), SYNC_LOOP_CASES)
def test_a_sync_loop_as_written_does_what_its_compiled_copy_does(
    loops: _loops.CompiledLoops[t.Any],
    receivers: tuple[t.Callable[..., object], ...],
    extra: tuple[object, ...],
) -> None:
    snapshot = walked_snapshot(*receivers)
    outcomes = []
    for loop in (loops.loop, loops.compile(("x",))):
        failures: list[tuple[object, Exception]] = []
        args = (*extra, failures) if loops is _loops.CALL_EACH_ROBUST else extra
        results = loop(snapshot, "s", {"x": 1}, *args)
        outcomes.append((_describe(results), _describe(failures)))
    assert outcomes[0] == outcomes[1]
    assert "never called" not in str(outcomes[0])


ASYNC_LOOP_CASES = [
    pytest.param(_loops.AWAIT_EACH, (ok_async,), (), id="await_each"),
    pytest.param(_loops.AWAIT_EACH_MIXED, (ok, ok_async), (None,), id="mixed-inline"),
    pytest.param(
        _loops.AWAIT_EACH_MIXED, (ok, ok_async), (to_async_wrapper,), id="mixed"
    ),
    pytest.param(
        _loops.AWAIT_EACH_ROBUST, (ok, fails, ok_async), (None,), id="robust-inline"
    ),
    pytest.param(
        _loops.AWAIT_EACH_ROBUST, (fails, ok_async), (to_async_wrapper,), id="robust"
    ),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("loops", "receivers", "extra"), ASYNC_LOOP_CASES)
async def test_an_async_loop_as_written_does_what_its_compiled_copy_does(
    loops: _loops.CompiledLoops[t.Any],
    receivers: tuple[t.Callable[..., object], ...],
    extra: tuple[object, ...],
) -> None:
    snapshot = walked_snapshot(*receivers)
    outcomes = []
    for loop in (loops.loop, loops.compile(("x",))):
        failures: list[tuple[object, Exception]] = []
        args = (*extra, failures) if loops is _loops.AWAIT_EACH_ROBUST else extra
        outcomes.append(
            (_describe(await loop(snapshot, "s", {"x": 1}, *args)), _describe(failures))
        )
    assert outcomes[0] == outcomes[1]
    assert "never called" not in str(outcomes[0])


def _describe(pairs: list[tuple[t.Any, t.Any]]) -> object:
    """Pairs with exceptions shown by type: two raises are never equal objects."""
    return [
        (receiver, type(value).__name__ if isinstance(value, Exception) else value)
        for receiver, value in pairs
    ]
