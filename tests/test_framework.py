"""anysignal.framework: what Flask and Quart extensions share, needing neither."""

from __future__ import annotations

import functools
import threading

import pytest

from anysignal import Signal
from anysignal.framework import NoAppContextError, inline, is_inline


def receiver(sender: object, **kwargs: object) -> str:
    return threading.current_thread().name


def test_inline_returns_the_receiver_itself_marked() -> None:
    def quick(sender: object, **kwargs: object) -> None: ...

    assert inline(quick) is quick
    assert is_inline(quick)


def test_receivers_are_not_inline_unless_marked() -> None:
    assert not is_inline(receiver)


def test_a_method_marked_in_its_class_is_inline_when_bound() -> None:
    class Counter:
        @inline
        def count(self, sender: object, **kwargs: object) -> None: ...

    assert is_inline(Counter().count)


def test_a_wraps_wrapper_keeps_the_mark() -> None:
    marked = inline(lambda sender, **kwargs: None)

    @functools.wraps(marked)
    def wrapper(sender: object, **kwargs: object) -> None: ...

    assert is_inline(wrapper)


def test_inline_refuses_a_coroutine_receiver() -> None:
    async def notify(sender: object, **kwargs: object) -> None: ...

    with pytest.raises(TypeError, match="already runs on the event loop"):
        inline(notify)


def test_inline_refuses_a_callable_that_takes_no_attributes() -> None:
    with pytest.raises(TypeError, match="does not accept attributes"):
        inline(len)


@pytest.mark.anyio
async def test_core_send_async_calls_marked_and_unmarked_receivers_alike() -> None:
    @inline
    def marked(sender: object, **kwargs: object) -> str:
        return threading.current_thread().name

    signal = Signal()
    signal.connect(receiver)
    signal.connect(marked)

    here = threading.current_thread().name
    assert await signal.send_async(None) == [(receiver, here), (marked, here)]


def test_no_app_context_error_is_a_runtime_error() -> None:
    # As Flask's and Quart's own error for current_app outside a context.
    assert issubclass(NoAppContextError, RuntimeError)
