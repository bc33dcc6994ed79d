"""Bad input, generated: senders and receivers of every kind, and raising receivers.

Each input either works as the Semantics page says, or is refused with a
documented :class:`TypeError` that leaves the signal's tables exactly as they
were.
"""

from __future__ import annotations

import functools
import traceback
import typing as t

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from anysignal import ANY, AsyncReceiverError, Signal

from .helpers import assert_no_bookkeeping, table_state

FAST = settings(max_examples=60, deadline=None, database=None)


class Plain:
    """A weakly referenceable sender with identity semantics."""


class Slotted:
    """Cannot be weakly referenced."""

    __slots__ = ()


class Unhashable:
    __hash__ = None  # type: ignore[assignment]


class StrSub(str):
    pass


class IntSub(int):
    pass


SENDERS = st.one_of(
    st.sampled_from([None, 0, False, True, "", 0.0, b"", (), ANY.__class__]),
    st.text(max_size=5),
    st.integers(),
    st.floats(allow_nan=False),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
    st.sets(st.integers(), max_size=2),
    st.tuples(st.integers()),
    st.builds(object),
    st.builds(Plain),
    st.builds(Slotted),
    st.builds(Unhashable),
    st.builds(StrSub, st.text(max_size=3)),
    st.builds(IntSub, st.integers()),
)


def same_sender(a: object, b: object) -> bool:
    """The Semantics page's rule: exact str and int by value, all else by identity."""
    if type(a) is type(b) and type(a) in {str, int}:
        return a == b
    return a is b


def copy_of(sender: object) -> object:
    """An equal object that is another object, where one can be made."""
    if type(sender) is str:
        return "".join(list(sender))
    if type(sender) is int:
        return int(str(sender))
    return sender


@FAST
@given(connected=SENDERS, other=SENDERS)
def test_any_sender_connects_matches_as_documented_and_cleans_up(
    connected: object, other: object
) -> None:
    sig = Signal()
    calls: list[object] = []

    def receiver(sender: object) -> str:
        calls.append(sender)
        return "r"

    sig.connect(receiver, sender=connected)
    assert sig.send(copy_of(connected)) == [(receiver, "r")]
    expected = [(receiver, "r")] if same_sender(connected, other) else []
    assert sig.send(other) == expected
    assert list(sig.receivers_for(other)) == [r for r, _ in expected]
    sig.disconnect(receiver, sender=connected)
    assert_no_bookkeeping(sig)


@FAST
@given(senders=st.lists(SENDERS, min_size=1, max_size=6))
def test_many_senders_of_mixed_kinds_keep_their_own_receivers(
    senders: list[object],
) -> None:
    sig = Signal()
    receivers = []
    for index, sender in enumerate(senders):

        def receiver(sender: object, index: int = index) -> int:
            return index

        receivers.append(receiver)
        sig.connect(receiver, sender=sender)
    for sender in senders:
        expected = [
            (receivers[i], i)
            for i, connected in enumerate(senders)
            if same_sender(connected, sender)
        ]
        assert sig.send(sender) == expected
    for receiver in receivers:
        sig.disconnect(receiver)
    assert_no_bookkeeping(sig)


# -- receivers of every kind --------------------------------------------------


def _function(sender: object, **kwargs: object) -> str:
    return "function"


def _first(sender: object, **kwargs: object) -> str:
    return "first"


async def _coroutine(sender: object, **kwargs: object) -> str:
    return "coroutine"


class Methods:
    def method(self, sender: object, **kwargs: object) -> str:
        return "method"

    async def async_method(self, sender: object, **kwargs: object) -> str:
        return "async method"

    def __call__(self, sender: object, **kwargs: object) -> str:
        return "callable"


class AsyncCallable:
    async def __call__(self, sender: object, **kwargs: object) -> str:
        return "async callable"


class SlottedCallable:
    __slots__ = ()

    def __call__(self, sender: object, **kwargs: object) -> str:
        return "slotted"


KEEP = Methods()
KEEP_ASYNC = AsyncCallable()

# name -> (receiver, result, is_async, can be weak)
RECEIVERS: dict[str, tuple[object, object, bool, bool]] = {
    "function": (_function, "function", False, True),
    "lambda": (lambda sender, **kwargs: "lambda", "lambda", False, True),
    "bound method": (KEEP.method, "method", False, True),
    "async bound method": (KEEP.async_method, "async method", True, True),
    "partial": (functools.partial(_function), "function", False, True),
    "async partial": (functools.partial(_coroutine), "coroutine", True, True),
    "callable object": (KEEP, "callable", False, True),
    "async callable object": (KEEP_ASYNC, "async callable", True, True),
    "coroutine function": (_coroutine, "coroutine", True, True),
    "slotted callable": (SlottedCallable(), "slotted", False, False),
}
NOT_CALLABLE: list[object] = [
    None,
    0,
    False,
    "",
    "name",
    1.5,
    [],
    {},
    object(),
    Plain(),
]


@FAST
@given(
    name=st.sampled_from(sorted(RECEIVERS)),
    weak=st.booleans(),
    sender=SENDERS,
    already=st.booleans(),
)
@pytest.mark.anyio
async def test_every_kind_of_receiver_works_or_is_refused_cleanly(
    name: str, weak: bool, sender: object, already: bool
) -> None:
    receiver, result, is_async, weakrefable = RECEIVERS[name]
    sig = Signal()
    if already:
        sig.connect(_first, sender=sender)
    before = table_state(sig)
    callable_receiver = t.cast("t.Callable[..., t.Any]", receiver)
    if weak and not weakrefable:
        with pytest.raises(TypeError, match="weak=False"):
            sig.connect(callable_receiver, sender=sender, weak=weak)
        assert table_state(sig) == before
        return
    assert sig.connect(callable_receiver, sender=sender, weak=weak) is receiver
    head = [(_first, "first")] if already else []
    if is_async:
        state = table_state(sig)
        with pytest.raises(AsyncReceiverError):
            sig.send(sender)
        assert table_state(sig) == state
    else:
        assert sig.send(sender) == [*head, (receiver, result)]
    assert await sig.send_async(copy_of(sender)) == [*head, (receiver, result)]
    sig.disconnect(callable_receiver)
    sig.disconnect(_first)
    assert_no_bookkeeping(sig)


@FAST
@given(
    not_callable=st.sampled_from(NOT_CALLABLE),
    weak=st.booleans(),
    sender=SENDERS,
)
def test_a_non_callable_is_refused_and_changes_nothing(
    not_callable: object, weak: bool, sender: object
) -> None:
    sig = Signal()
    sig.connect(_function, sender=sender)
    before = table_state(sig)
    with pytest.raises(TypeError, match="must be callable"):
        sig.connect(not_callable, sender=sender, weak=weak)  # type: ignore[type-var]
    assert table_state(sig) == before
    assert sig.send(sender) == [(_function, "function")]


@FAST
@given(
    extra=st.lists(
        st.one_of(st.integers(), st.text(max_size=3), st.none()), min_size=1
    ),
    sender=SENDERS,
)
def test_extra_positional_arguments_are_refused_and_change_nothing(
    extra: list[object], sender: object
) -> None:
    sig = Signal()
    sig.connect(_function, sender=sender)
    before = table_state(sig)
    send = t.cast("t.Callable[..., object]", sig.send)
    with pytest.raises(TypeError, match="only positional argument"):
        send(sender, *extra)
    assert table_state(sig) == before


KWARG_NAMES = st.text(
    alphabet=st.sampled_from("abcx_1 -"), min_size=1, max_size=4
).filter(lambda name: name not in {"sender"})


@FAST
@given(kwargs=st.dictionaries(KWARG_NAMES, st.integers(), max_size=4))
def test_any_keyword_names_reach_the_receiver_unchanged(kwargs: dict[str, int]) -> None:
    sig = Signal()
    seen: list[dict[str, object]] = []

    def receiver(sender: object, **received: object) -> None:
        seen.append(received)

    def second(sender: object, **received: object) -> None:
        seen.append(received)

    sig.connect(receiver)
    sig.connect(second)
    send = t.cast("t.Callable[..., object]", sig.send)
    send("s", **kwargs)
    assert seen == [kwargs, kwargs]


# -- exceptions from receivers ------------------------------------------------

ERRORS = st.sampled_from([ValueError, KeyError, RuntimeError, TypeError, OSError])


def _frames_after(tb: traceback.StackSummary, method: str) -> list[str]:
    names = [frame.name for frame in tb]
    assert method in names, names
    return names[names.index(method) + 1 :]


def _assert_no_machinery(tb: traceback.StackSummary) -> None:
    files = [frame.filename for frame in tb]
    assert not [f for f in files if f.startswith("<anysignal")], files


def _make_sync_raiser(error: type[Exception]) -> t.Callable[..., None]:
    def raising_receiver(sender: object, **kwargs: object) -> None:
        raise error("raised")

    return raising_receiver


def _make_async_raiser(
    error: type[Exception],
) -> t.Callable[..., t.Coroutine[t.Any, t.Any, None]]:
    async def raising_receiver(sender: object, **kwargs: object) -> None:
        raise error("raised")

    return raising_receiver


def _make_raiser(error: type[Exception], is_async: bool) -> t.Any:
    # Tracebacks show the name of the code, which only a def statement sets.
    return _make_async_raiser(error) if is_async else _make_sync_raiser(error)


@FAST
@given(
    count=st.integers(1, 4),
    position=st.integers(0, 3),
    error=ERRORS,
    kwargs=st.dictionaries(st.sampled_from(["a", "b", "not id"]), st.integers()),
)
def test_an_exception_leaves_the_signal_intact_and_shows_the_receiver_first(
    count: int, position: int, error: type[Exception], kwargs: dict[str, int]
) -> None:
    position %= count
    sig = Signal()
    calls: list[int] = []
    receivers: list[t.Any] = []
    for index in range(count):
        if index == position:
            receiver = _make_raiser(error, is_async=False)
        else:

            def receiver(sender: object, index: int = index, **kwargs: object) -> int:
                calls.append(index)
                return index

        receivers.append(receiver)
        sig.connect(receiver, weak=False)
    before = table_state(sig)
    send = t.cast("t.Callable[..., object]", sig.send)
    with pytest.raises(error) as info:
        send("s", **kwargs)
    assert calls == list(range(position))
    assert table_state(sig) == before
    tb = traceback.extract_tb(info.value.__traceback__)
    assert _frames_after(tb, "send") == ["raising_receiver"]
    _assert_no_machinery(tb)
    sig.disconnect(receivers[position])
    assert [r for r, _ in t.cast("list[t.Any]", send("s", **kwargs))] == [
        r for i, r in enumerate(receivers) if i != position
    ]


@FAST
@given(
    count=st.integers(1, 4),
    position=st.integers(0, 3),
    error=ERRORS,
    raiser_is_async=st.booleans(),
)
@pytest.mark.anyio
async def test_send_async_exceptions_show_the_receiver_right_after_send_async(
    count: int, position: int, error: type[Exception], raiser_is_async: bool
) -> None:
    position %= count
    sig = Signal()
    receivers: list[t.Any] = []
    for index in range(count):
        if index == position:
            receiver = _make_raiser(error, raiser_is_async)
        elif index % 2:

            async def receiver(sender: object, index: int = index) -> int:
                return index

        else:

            def receiver(sender: object, index: int = index) -> int:
                return index

        receivers.append(receiver)
        sig.connect(receiver, weak=False)
    before = table_state(sig)
    with pytest.raises(error) as info:
        await sig.send_async("s")
    assert table_state(sig) == before
    tb = traceback.extract_tb(info.value.__traceback__)
    assert _frames_after(tb, "send_async") == ["raising_receiver"]
    _assert_no_machinery(tb)


def test_the_async_wrapper_path_shows_the_wrapper_then_the_receiver() -> None:
    sig = Signal()

    async def raising_receiver(sender: object) -> None:
        raise ValueError("inside")

    def ensure_sync(
        func: t.Callable[..., t.Coroutine[t.Any, t.Any, t.Any]],
    ) -> t.Callable[..., t.Any]:
        def run_it(*args: object, **kwargs: object) -> t.Any:
            coroutine = func(*args, **kwargs)
            try:
                coroutine.send(None)
            except StopIteration as stop:
                return stop.value
            raise AssertionError("the receiver did not finish")  # pragma: no cover

        return run_it

    for count in (1, 2):
        sig.connect(raising_receiver)
        if count == 2:
            sig.connect(_function)
        with pytest.raises(ValueError, match="inside") as info:
            sig.send("s", _async_wrapper=ensure_sync)
        tb = traceback.extract_tb(info.value.__traceback__)
        assert _frames_after(tb, "send") == ["run_it", "raising_receiver"]
        _assert_no_machinery(tb)
