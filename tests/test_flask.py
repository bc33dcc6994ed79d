"""anysignal.flask: sending from Flask views, sync and async receivers alike."""

from __future__ import annotations

import asyncio
import threading

import pytest

pytest.importorskip("flask")

from flask import Flask, current_app, got_request_exception

import anysignal.flask
from anysignal.framework import NoAppContextError
from anysignal.testing import record_sends

from .framework_extension import RECEIVERS, Call, receivers_connected, saved


@pytest.fixture
def app() -> Flask:
    return Flask(__name__)


def test_a_view_sends_to_sync_and_async_receivers_in_connection_order(
    app: Flask,
) -> None:
    calls: list[Call] = []
    results = []

    @app.post("/records")
    def save() -> str:
        results.extend(anysignal.flask.send(saved, calls=calls))
        return "saved"

    with receivers_connected():
        assert app.test_client().post("/records").text == "saved"

    assert [call.receiver for call in calls] == ["write_row", "notify", "count"]
    assert results == [
        (RECEIVERS[0], "row written"),
        (RECEIVERS[1], "subscriber notified"),
        (RECEIVERS[2], "counted"),
    ]


def test_sync_receivers_run_in_the_request_thread(app: Flask) -> None:
    calls: list[Call] = []

    @app.post("/records")
    def save() -> str:
        anysignal.flask.send(saved, calls=calls)
        return threading.current_thread().name

    with receivers_connected():
        request_thread = app.test_client().post("/records").text

    # The async receiver runs wherever asgiref's loop is, the request waiting.
    sync_calls = [call for call in calls if call.receiver != "notify"]
    assert {call.thread.name for call in sync_calls} == {request_thread}


def test_an_async_receiver_can_use_current_app(app: Flask) -> None:
    async def app_name(sender: object, **kwargs: object) -> str:
        await asyncio.sleep(0)  # really awaited, on the loop ensure_sync runs
        return current_app.name

    @app.get("/name")
    def name() -> str:
        [(_, result)] = anysignal.flask.send(saved)
        return str(result)

    with saved.connected_to(app_name):
        assert app.test_client().get("/name").text == app.name


def test_the_default_sender_is_the_app_itself_not_its_proxy(app: Flask) -> None:
    senders = []

    def remember(sender: object, **kwargs: object) -> None:
        senders.append(sender)

    # Connected for the app: only the real app object matches.
    with saved.connected_to(remember, sender=app), app.app_context():
        anysignal.flask.send(saved)

    assert senders == [app]
    assert type(senders[0]) is Flask


def test_an_explicit_sender_is_sent_as_given(app: Flask) -> None:
    def which(sender: object, **kwargs: object) -> object:
        return sender

    with saved.connected_to(which, sender="orders"), app.app_context():
        assert anysignal.flask.send(saved, "orders") == [(which, "orders")]


def test_sending_outside_an_app_context_says_to_push_one() -> None:
    with pytest.raises(NoAppContextError, match=r"with app\.app_context\(\)"):
        anysignal.flask.send(saved)


def test_a_raising_receiver_fails_the_request_and_flask_reports_it(
    app: Flask,
) -> None:
    reported: list[BaseException] = []

    def broken(sender: object, **kwargs: object) -> None:
        msg = "no table 'audit'"
        raise LookupError(msg)

    def report(sender: object, *, exception: BaseException, **kwargs: object) -> None:
        reported.append(exception)

    @app.post("/records")
    def save() -> str:
        anysignal.flask.send(saved)
        return "saved"

    with (
        saved.connected_to(broken),
        got_request_exception.connected_to(report, sender=app),
    ):
        response = app.test_client().post("/records")

    assert response.status_code == 500
    [exception] = reported
    assert isinstance(exception, LookupError)


def test_an_object_with_an_async_call_method_is_awaited(app: Flask) -> None:
    class Notifier:
        async def __call__(self, sender: Flask, **kwargs: object) -> str:
            await asyncio.sleep(0)
            return f"notified by {current_app.name}"

    notifier = Notifier()
    saved.connect(notifier)
    try:
        with app.app_context():
            assert anysignal.flask.send(saved) == [
                (notifier, f"notified by {app.name}")
            ]
    finally:
        saved.disconnect(notifier)


def test_record_sends_names_the_flask_adapter(app: Flask) -> None:
    @app.post("/records")
    def save() -> str:
        anysignal.flask.send(saved, calls=[])
        return "saved"

    with record_sends(saved) as sends:
        app.test_client().post("/records")
    assert sends.assert_sent_once(app).api == "anysignal.flask.send"
