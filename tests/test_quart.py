"""anysignal.quart: the same signal and receivers, awaited from Quart views."""

from __future__ import annotations

import contextvars
import threading

import pytest

pytest.importorskip("quart")

from quart import Quart, current_app, got_request_exception, request

import anysignal.quart
from anysignal.framework import NoAppContextError, inline
from anysignal.testing import record_sends

from .framework_extension import RECEIVERS, Call, receivers_connected, saved

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # Quart runs on asyncio only


@pytest.fixture
def app() -> Quart:
    return Quart(__name__)


async def test_a_view_awaits_sync_and_async_receivers_in_connection_order(
    app: Quart,
) -> None:
    calls: list[Call] = []
    results = []

    @app.post("/records")
    async def save() -> str:
        results.extend(await anysignal.quart.send(saved, calls=calls))
        return "saved"

    with receivers_connected():
        response = await app.test_client().post("/records")

    assert await response.get_data(as_text=True) == "saved"
    assert [call.receiver for call in calls] == ["write_row", "notify", "count"]
    assert results == [
        (RECEIVERS[0], "row written"),
        (RECEIVERS[1], "subscriber notified"),
        (RECEIVERS[2], "counted"),
    ]


async def test_sync_receivers_run_in_a_worker_thread_async_ones_on_the_loop(
    app: Quart,
) -> None:
    calls: list[Call] = []

    @app.post("/records")
    async def save() -> str:
        await anysignal.quart.send(saved, calls=calls)
        return threading.current_thread().name

    with receivers_connected():
        response = await app.test_client().post("/records")

    loop_thread = await response.get_data(as_text=True)
    threads = {call.receiver: call.thread.name for call in calls}
    assert threads["notify"] == loop_thread
    assert threads["write_row"] != loop_thread
    assert threads["count"] != loop_thread


async def test_a_sync_receiver_in_its_thread_sees_current_app_and_request(
    app: Quart,
) -> None:
    def where(sender: object, **kwargs: object) -> str:
        return f"{current_app.name} {request.path}"

    @app.get("/where")
    async def view() -> str:
        [(_, result)] = await anysignal.quart.send(saved)
        return str(result)

    with saved.connected_to(where):
        response = await app.test_client().get("/where")

    assert await response.get_data(as_text=True) == f"{app.name} /where"


async def test_an_inline_receiver_runs_on_the_event_loop_thread(app: Quart) -> None:
    @inline
    def thread_name(sender: object, **kwargs: object) -> str:
        return threading.current_thread().name

    async with app.app_context():
        with saved.connected_to(thread_name):
            [(_, result)] = await anysignal.quart.send(saved)

    assert result == threading.current_thread().name


async def test_context_variables_set_in_a_threaded_receiver_stay_there(
    app: Quart,
) -> None:
    step: contextvars.ContextVar[str] = contextvars.ContextVar("step")

    def advance(sender: object, **kwargs: object) -> str:
        seen = step.get()
        step.set("set by the receiver")  # in the thread's copy of the context
        return seen

    async with app.app_context():
        step.set("set by the sender")
        with saved.connected_to(advance):
            [(_, seen)] = await anysignal.quart.send(saved)

        assert seen == "set by the sender"
        assert step.get() == "set by the sender"


async def test_the_default_sender_is_the_app_itself_not_its_proxy(app: Quart) -> None:
    senders = []

    async def remember(sender: object, **kwargs: object) -> None:
        senders.append(sender)

    # Connected for the app: only the real app object matches.
    async with app.app_context():
        with saved.connected_to(remember, sender=app):
            await anysignal.quart.send(saved)

    assert senders == [app]
    assert type(senders[0]) is Quart


async def test_an_explicit_sender_is_sent_as_given(app: Quart) -> None:
    async def which(sender: object, **kwargs: object) -> object:
        return sender

    async with app.app_context():
        with saved.connected_to(which, sender="orders"):
            assert await anysignal.quart.send(saved, "orders") == [(which, "orders")]


async def test_awaiting_send_outside_an_app_context_says_to_push_one() -> None:
    with pytest.raises(NoAppContextError, match=r"async with app\.app_context\(\)"):
        await anysignal.quart.send(saved)


async def test_a_raising_receiver_fails_the_request_and_quart_reports_it(
    app: Quart,
) -> None:
    reported: list[BaseException] = []

    def broken(sender: object, **kwargs: object) -> None:
        msg = "no table 'audit'"
        raise LookupError(msg)

    async def report(
        sender: object, *, exception: BaseException, **kwargs: object
    ) -> None:
        reported.append(exception)

    @app.post("/records")
    async def save() -> str:
        await anysignal.quart.send(saved)
        return "saved"

    with (
        saved.connected_to(broken),
        got_request_exception.connected_to(report, sender=app),
    ):
        response = await app.test_client().post("/records")

    assert response.status_code == 500
    [exception] = reported
    assert isinstance(exception, LookupError)


async def test_record_sends_names_the_quart_adapter(app: Quart) -> None:
    @app.post("/records")
    async def save() -> str:
        await anysignal.quart.send(saved, calls=[])
        return "saved"

    with record_sends(saved) as sends:
        await app.test_client().post("/records")
    assert sends.assert_sent_once(app).api == "anysignal.quart.send"
