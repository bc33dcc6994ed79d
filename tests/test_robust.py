"""send_robust and send_async_robust: every receiver runs, failures are kept."""

from __future__ import annotations

import logging

import anyio
import pytest

from anysignal import ReceiverErrors, Signal

from .helpers import Boom, Recorder, explode, explode_async


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


def test_every_receiver_runs_and_the_exception_is_the_result(rec: Recorder) -> None:
    sig = Signal()
    before, after = rec.sync("before"), rec.sync("after")
    for receiver in (before, explode, after):
        sig.connect(receiver)
    results = sig.send_robust("s")
    assert rec.calls == ["before", "after"]
    assert [r for r, _ in results] == [before, explode, after]
    assert isinstance(results[1][1], Boom)


@pytest.mark.anyio
async def test_send_async_robust_runs_every_receiver(rec: Recorder) -> None:
    sig = Signal()
    before, after = rec.async_("before"), rec.sync("after")
    for receiver in (before, explode_async, explode, after):
        sig.connect(receiver)
    results = await sig.send_async_robust("s")
    assert rec.calls == ["before", "after"]
    assert [type(result) for _, result in results[1:3]] == [Boom, Boom]


def test_failures_are_logged_with_the_receiver_name(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sig = Signal()
    sig.connect(explode)
    with caplog.at_level(logging.ERROR, logger="anysignal"):
        sig.send_robust("s")
    [record] = caplog.records
    assert "explode" in record.getMessage()
    assert record.exc_info is not None
    assert record.exc_info[0] is Boom


def test_a_receiver_returning_an_exception_is_not_a_failure(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sig = Signal()
    error = Boom("returned")
    sig.connect(lambda sender: error, weak=False)
    with caplog.at_level(logging.ERROR, logger="anysignal"):
        assert sig.send_robust(_raise_group=True)[0][1] is error
    assert caplog.records == []


def test_raise_group_raises_every_failure_after_every_receiver(
    rec: Recorder,
) -> None:
    sig = Signal()

    def explode_too(sender: object) -> None:
        raise KeyError(sender)

    after = rec.sync("after")
    for receiver in (explode, explode_too, after):
        sig.connect(receiver)
    with pytest.raises(ReceiverErrors) as info:
        sig.send_robust("s", _raise_group=True)
    assert rec.calls == ["after"]
    assert [type(exc) for exc in info.value.exceptions] == [Boom, KeyError]
    assert "explode_too" in info.value.exceptions[1].__notes__[0]
    assert [r for r, _ in info.value.results] == [explode, explode_too, after]
    assert isinstance(info.value, ExceptionGroup)


def test_a_receiver_errors_group_keeps_its_type_when_split() -> None:
    group = ReceiverErrors("2 failed", [Boom(), KeyError()], [])
    matched, rest = group.split(Boom)
    assert isinstance(matched, ReceiverErrors)
    assert isinstance(rest, ReceiverErrors)
    assert matched.results is group.results


def test_no_failure_raises_no_group(rec: Recorder) -> None:
    sig = Signal()
    receiver = rec.sync("r")
    sig.connect(receiver)
    assert sig.send_robust(_raise_group=True) == [(receiver, "r")]


def test_base_exceptions_still_stop_the_send(
    rec: Recorder, caplog: pytest.LogCaptureFixture
) -> None:
    sig = Signal()

    def interrupt(sender: object) -> None:
        raise KeyboardInterrupt

    after = rec.sync("after")
    for receiver in (explode, interrupt, after):
        sig.connect(receiver)
    with (
        caplog.at_level(logging.ERROR, logger="anysignal"),
        pytest.raises(KeyboardInterrupt),
    ):
        sig.send_robust()
    assert rec.calls == []
    assert len(caplog.records) == 1  # the failure before it is not lost


@pytest.mark.anyio
async def test_cancellation_stops_a_robust_send(rec: Recorder) -> None:
    sig = Signal()

    async def waits(sender: object) -> None:
        await anyio.sleep_forever()

    after = rec.async_("after")
    sig.connect(waits)
    sig.connect(after)
    with anyio.move_on_after(0.01) as scope:
        await sig.send_async_robust()
    assert scope.cancelled_caught
    assert rec.calls == []


def test_send_robust_refuses_async_receivers_without_a_wrapper() -> None:
    sig = Signal()
    sig.connect(explode_async)
    with pytest.raises(RuntimeError, match="explode_async"):
        sig.send_robust()


def test_send_robust_runs_async_receivers_through_the_wrapper() -> None:
    sig = Signal()
    sig.connect(explode_async)
    results = sig.send_robust("s", _async_wrapper=lambda f: explode)
    assert isinstance(results[0][1], Boom)


def test_a_muted_signal_sends_nothing_robustly(rec: Recorder) -> None:
    sig = Signal()
    sig.connect(rec.sync("r"), weak=False)
    with sig.muted():
        assert sig.send_robust() == []
    assert rec.calls == []
