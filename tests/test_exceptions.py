"""A receiver's exception propagates and stops the send.

See the Semantics page, "Exceptions".
"""

from __future__ import annotations

import traceback

import pytest

from anysignal import Signal

from .helpers import Boom, Recorder, explode, explode_async


def test_the_exception_propagates_unchanged_and_later_receivers_do_not_run() -> None:
    sig = Signal()
    rec = Recorder()
    before, after = rec.sync("before"), rec.sync("after")
    sig.connect(before)
    sig.connect(explode)
    sig.connect(after)
    with pytest.raises(Boom) as info:
        sig.send("s")
    assert info.value.args == ("s",)
    assert rec.calls == ["before"]


@pytest.mark.anyio
async def test_send_async_propagates_and_stops_too() -> None:
    sig = Signal()
    rec = Recorder()
    before, after = rec.async_("before"), rec.async_("after")
    sig.connect(before)
    sig.connect(explode_async)
    sig.connect(after)
    with pytest.raises(Boom):
        await sig.send_async("s")
    assert rec.calls == ["before"]


def test_the_signal_works_normally_after_an_exception() -> None:
    sig = Signal()
    rec = Recorder()
    receiver = rec.sync("r")
    sig.connect(explode)
    sig.connect(receiver)
    with pytest.raises(Boom):
        sig.send()
    sig.disconnect(explode)
    assert sig.send() == [(receiver, "r")]


def test_the_traceback_goes_from_send_straight_to_the_receiver() -> None:
    sig = Signal()
    sig.connect(explode)
    with pytest.raises(Boom) as info:
        sig.send()
    frames = [frame.name for frame in traceback.extract_tb(info.value.__traceback__)]
    assert frames[-2:] == ["send", "explode"]
