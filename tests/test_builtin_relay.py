"""Relaying Flask's and Quart's built-in signals into anysignal.framework's."""

from __future__ import annotations

import gc
import threading
import types
import weakref
from collections.abc import Callable

import pytest

pytest.importorskip("flask")
pytest.importorskip("quart")

import blinker
import flask
import quart
from flask import Flask
from quart import Quart

import anysignal.flask
import anysignal.quart
from anysignal import framework

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # Quart runs on asyncio only


def relayed_flask_app() -> Flask:
    app = Flask(__name__)
    app.get("/")(lambda: "flask")
    anysignal.flask.relay_builtin_signals(app)
    return app


def relayed_quart_app() -> Quart:
    app = Quart(__name__)

    @app.get("/")
    async def index() -> str:
        return "quart"

    anysignal.quart.relay_builtin_signals(app)
    return app


@pytest.mark.parametrize("framework_module", [flask, quart])
def test_every_builtin_signal_has_a_neutral_twin(
    framework_module: types.ModuleType,
) -> None:
    builtins = vars(framework_module.signals).values()
    names = {s.name for s in builtins if isinstance(s, blinker.NamedSignal)}
    assert names <= set(framework.signals)


async def test_one_receiver_on_request_finished_serves_flask_and_quart() -> None:
    flask_app, quart_app = relayed_flask_app(), relayed_quart_app()
    finished: list[tuple[object, int]] = []

    def log(sender: object, *, response: flask.Response, **kwargs: object) -> None:
        finished.append((sender, response.status_code))

    with framework.request_finished.connected_to(log):
        flask_app.test_client().get("/")
        await quart_app.test_client().get("/")

    assert finished == [(flask_app, 200), (quart_app, 200)]


async def test_relaying_an_app_twice_relays_each_signal_once() -> None:
    flask_app, quart_app = relayed_flask_app(), relayed_quart_app()
    anysignal.flask.relay_builtin_signals(flask_app)
    anysignal.quart.relay_builtin_signals(quart_app)
    started: list[object] = []

    def log(sender: object, **kwargs: object) -> None:
        started.append(sender)

    with framework.request_started.connected_to(log):
        flask_app.test_client().get("/")
        await quart_app.test_client().get("/")

    assert started == [flask_app, quart_app]


def test_an_app_that_is_not_relayed_sends_no_neutral_signal() -> None:
    relayed_flask_app()
    other = Flask(__name__)
    other.get("/")(lambda: "other")
    started: list[object] = []

    with framework.request_started.connected_to(lambda s, **kw: started.append(s)):
        other.test_client().get("/")

    assert started == []


def test_an_async_receiver_on_a_relayed_flask_signal_is_run_to_completion() -> None:
    app = relayed_flask_app()
    pushed: list[str] = []

    async def log(sender: object, **kwargs: object) -> None:
        pushed.append(flask.current_app.name)

    with framework.appcontext_pushed.connected_to(log), app.app_context():
        pass

    assert pushed == [app.name]


async def test_sync_receivers_on_relayed_quart_signals_run_in_a_worker_thread() -> None:
    app = relayed_quart_app()
    threads: list[threading.Thread] = []

    def log(sender: object, **kwargs: object) -> None:
        threads.append(threading.current_thread())

    with framework.request_started.connected_to(log):
        await app.test_client().get("/")

    assert threads
    assert threading.current_thread() not in threads


async def test_an_inline_receiver_on_a_relayed_quart_signal_runs_on_the_loop() -> None:
    app = relayed_quart_app()
    threads: list[threading.Thread] = []

    @framework.inline
    def log(sender: object, **kwargs: object) -> None:
        threads.append(threading.current_thread())

    with framework.request_started.connected_to(log):
        await app.test_client().get("/")

    assert threads == [threading.current_thread()]


async def test_sync_receivers_on_relayed_websocket_messages_keep_it_working() -> None:
    app = relayed_quart_app()

    @app.websocket("/echo")
    async def echo() -> None:
        while (message := await quart.websocket.receive()) != "bye":
            await quart.websocket.send(message.upper())
        await quart.websocket.send("ciao")

    messages: list[tuple[str, object]] = []

    def received(sender: object, **kwargs: object) -> None:
        messages.append(("received", sender))

    def sent(sender: object, **kwargs: object) -> None:
        messages.append(("sent", sender))

    with (
        framework.websocket_received.connected_to(received),
        framework.websocket_sent.connected_to(sent),
    ):
        async with app.test_client().websocket("/echo") as websocket:
            await websocket.send("hello")
            assert await websocket.receive() == "HELLO"
            await websocket.send("bye")
            # Quart relays a received message before the handler gets it, and a
            # sent one after the client may have it: once "ciao" is here, all
            # but its own relay are done. Quart reads and sends in two tasks, so
            # the relays of "HELLO" and "bye" may finish in either order.
            assert await websocket.receive() == "ciao"

    assert messages[0] == ("received", "hello")
    assert sorted(messages[1:3]) == [("received", "bye"), ("sent", "HELLO")]


@pytest.mark.parametrize("make_app", [relayed_flask_app, relayed_quart_app])
def test_relaying_does_not_keep_the_app_alive(make_app: Callable[[], object]) -> None:
    app_ref = weakref.ref(make_app())
    gc.collect()
    assert app_ref() is None
