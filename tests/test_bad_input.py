"""Bad input gets a clear error, and nothing is half-connected.

See the Semantics page, "Bad input".
"""

from __future__ import annotations

import inspect
import typing as t

import pytest

from anysignal import Signal

from .helpers import assert_no_bookkeeping


def receiver(sender: object, **kwargs: object) -> None:
    pass


@pytest.mark.parametrize("not_callable", [None, 42, "receiver", object()], ids=repr)
def test_connecting_a_non_callable_is_a_type_error_naming_it(
    not_callable: object,
) -> None:
    sig = Signal()
    with pytest.raises(TypeError, match="must be callable") as info:
        sig.connect(not_callable)  # type: ignore[type-var]
    assert repr(not_callable) in str(info.value)
    assert_no_bookkeeping(sig)


def test_connect_via_with_a_non_callable_is_refused_too() -> None:
    sig = Signal()
    with pytest.raises(TypeError, match="must be callable"):
        sig.connect_via("s")("not callable")  # type: ignore[type-var]
    assert not sig.receivers


def test_extra_positional_arguments_to_send_are_a_type_error() -> None:
    sig = Signal()
    sig.connect(receiver)
    send = t.cast("t.Any", sig.send)
    with pytest.raises(
        TypeError, match=r"keyword arguments.*send\(sender, value="
    ) as info:
        send("sender", "extra")
    assert "'extra'" in str(info.value)


@pytest.mark.anyio
async def test_extra_positional_arguments_to_send_async_are_a_type_error() -> None:
    sig = Signal()
    send_async = t.cast("t.Any", sig.send_async)
    with pytest.raises(TypeError, match=r"send_async\(\) takes the sender"):
        await send_async("sender", 1, 2)


@pytest.mark.anyio
@pytest.mark.parametrize(
    "method", ["send_robust", "send_async_robust", "send_concurrent"]
)
async def test_extra_positional_arguments_to_a_policy_send_are_a_type_error(
    method: str,
) -> None:
    sig = Signal()
    sig.connect(receiver)

    async def send_with_an_extra_positional() -> None:
        outcome = getattr(sig, method)("sender", "extra")
        if inspect.isawaitable(outcome):
            await outcome

    with pytest.raises(TypeError, match=rf"{method}\(\) takes the sender"):
        await send_with_an_extra_positional()


def test_a_refused_weak_connection_leaves_earlier_connections_untouched() -> None:
    sig = Signal()

    class Slotted:
        __slots__ = ()

        def __call__(self, sender: object) -> None:
            pass

    sig.connect(receiver, sender="s")
    before = (
        dict(sig.receivers),
        {k: dict(v) for k, v in sig._table.by_sender.items()},
    )
    with pytest.raises(TypeError):
        sig.connect(Slotted(), sender="s")
    assert (dict(sig.receivers), dict(sig._table.by_sender)) == before


def test_disconnecting_a_receiver_that_is_not_connected_does_nothing() -> None:
    sig = Signal()
    sig.disconnect(receiver)
    sig.disconnect(receiver, sender="s")
    assert not sig.receivers
