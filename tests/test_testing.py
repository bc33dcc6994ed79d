"""anysignal.testing: recording sends for an extension's own tests."""

from __future__ import annotations

import pytest

from anysignal import Signal
from anysignal.testing import record_sends

from .helpers import Recorder


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
