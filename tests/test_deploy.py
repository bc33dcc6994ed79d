"""The example apps as deployed: real gunicorn, hypercorn and uvicorn, several workers.

Each test starts a real server as a subprocess on a free loopback port, with
a real redis-server, and drives it over HTTP and websockets. Every worker
answers with its pid, so that the tests can tell which workers received an
event. They take a few seconds each (``-m "not deploy"`` leaves them out).
"""

from __future__ import annotations

import os
import re
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytest.importorskip("gunicorn")
pytest.importorskip("hypercorn")

import httpx

from tests.relay_workers.redis_server import RedisServer, redis_server_path
from tests.relay_workers.servers import (
    Applied,
    Server,
    Websocket,
    gunicorn,
    hypercorn,
    post_message,
    server_workers,
    serving,
    until_every_websocket_hears,
    uvicorn,
    wait_for,
    websockets_on_every_worker,
)

pytestmark = [
    pytest.mark.deploy,
    pytest.mark.skipif(
        redis_server_path() is None,
        reason="redis-server is not on PATH (apt-get install redis-server)",
    ),
]

WORKERS = 3
GUNICORN_MODELS = [
    pytest.param(("sync", False), id="sync"),
    pytest.param(("gthread", False), id="gthread"),
    pytest.param(("sync", True), id="sync-preload"),
    pytest.param(("gthread", True), id="gthread-preload"),
]
"""Gunicorn's worker models, each with the app loaded in every worker, or
once in the master before the fork (``--preload``): the relay is then made,
and listening, before the fork."""


@pytest.fixture
def applied(redis_server: RedisServer) -> Iterator[Applied]:
    with Applied(redis_server.url) as watcher:
        yield watcher


ASYNCIO_CANCELLED_CONNECTION = re.compile(
    r"Exception in callback StreamReaderProtocol\.connection_made.*?"
    r"asyncio\.exceptions\.CancelledError\n",
    re.DOTALL,
)
"""What asyncio before Python 3.13 logs for each connection that hypercorn
cancels once its graceful timeout is over (asyncio's streams then ask the
cancelled task for its exception): open websockets, at shutdown. Python 3.13
closes the connection quietly instead. Neither anysignal's nor the app's."""


def assert_clean_shutdown(
    server: Server, pids: set[int], then: Callable[[], None] | None = None
) -> str:
    """Stop ``server`` with SIGTERM; check that every worker's relay stopped cleanly.

    :param then: Called right after the signal, such as clients leaving.
    """
    before = len(server.log())
    assert server.terminate(then) == 0
    log = server.log()
    if sys.version_info < (3, 13):
        log = log[:before] + ASYNCIO_CANCELLED_CONNECTION.sub("", log[before:])
    assert "Traceback" not in log, log
    for trouble in (
        "was destroyed but it is pending",
        "still running",  # a relay thread that would not stop
        "did not stop",
        "ERROR",
        "WARNING",
    ):
        assert trouble not in log[before:], f"{trouble!r} at shutdown:\n{log}"
    for pid in pids:
        assert f"relay listener stopped in pid {pid}" in log, log
    return log


# -- gunicorn, Flask: cache invalidation ----------------------------------------


@pytest.fixture
def gunicorn_workers(
    request: pytest.FixtureRequest,
    redis_server: RedisServer,
    tmp_path: Path,
    applied: Applied,
) -> Iterator[tuple[Server, set[int]]]:
    """The Flask example under gunicorn, every worker listening: the server and pids.

    Parametrized indirectly with ``(worker_class, preload)``.
    """
    worker_class, preload = request.param
    command = server_workers(gunicorn(worker_class, preload=preload), WORKERS)
    with serving(
        f"gunicorn-{worker_class}", command, WORKERS, redis_server.url, tmp_path
    ) as server:
        pids = server.wait_started()
        applied.until_all_listen(server, pids)  # every worker has published, too
        yield server, pids


@pytest.mark.parametrize("gunicorn_workers", GUNICORN_MODELS, indirect=True)
def test_a_settings_change_posted_to_one_worker_reaches_every_gunicorn_worker(
    gunicorn_workers: tuple[Server, set[int]], applied: Applied
) -> None:
    server, pids = gunicorn_workers

    posted = applied.post(server, {"colour": "blue"})
    reports = applied.wait_applied(server, posted["version"], pids)

    assert posted["pid"] in pids
    assert {r["sender_pid"] for r in reports} == {posted["pid"]}
    # With --preload the master listens too: it made the relay.
    assert {r["pid"] for r in reports} <= pids | {server.pid}
    # Whichever worker answers now has dropped its cache: it reads the new
    # settings.
    for _ in range(2 * WORKERS):
        settings = httpx.get(server.url + "/settings", timeout=5).json()
        assert settings["version"] == posted["version"]
        assert settings["values"] == {"colour": "blue"}


@pytest.mark.parametrize(
    "gunicorn_workers", [GUNICORN_MODELS[0], GUNICORN_MODELS[3]], indirect=True
)
def test_sigterm_to_gunicorn_stops_every_workers_relay_cleanly(
    gunicorn_workers: tuple[Server, set[int]],
) -> None:
    server, pids = gunicorn_workers

    log = assert_clean_shutdown(server, pids)

    for pid in pids:
        assert re.search(
            rf"relay publisher stopped in pid {pid}; 0 event\(s\) dropped", log
        ), log
    assert not server.worker_pids()


# --preload: gunicorn forks the replacement from a master whose relay listens,
# as it forked the first workers.
@pytest.mark.parametrize("gunicorn_workers", [GUNICORN_MODELS[2]], indirect=True)
def test_a_killed_gunicorn_worker_is_replaced_and_the_new_one_rejoins_the_relay(
    gunicorn_workers: tuple[Server, set[int]], applied: Applied
) -> None:
    server, pids = gunicorn_workers
    killed = min(pids)

    os.kill(killed, signal.SIGKILL)

    def replacement() -> int | None:
        new = server.worker_pids() - pids
        return new.pop() if new else None

    newcomer = wait_for(replacement, "gunicorn to start a new worker")
    now = (pids - {killed}) | {newcomer}
    assert server.worker_pids() == now
    applied.until_all_listen(server, now)
    posted = applied.post(server, {"after": "the kill"})
    reports = applied.wait_applied(server, posted["version"], now)
    assert newcomer in {r["pid"] for r in reports}
    assert_clean_shutdown(server, now)


# -- hypercorn and uvicorn, Quart: websocket fan-out ----------------------------

ASGI_SERVERS = [
    pytest.param(hypercorn, id="hypercorn"),
    pytest.param(uvicorn, id="uvicorn"),
]


@pytest.fixture
def asgi_websockets(
    request: pytest.FixtureRequest, redis_server: RedisServer, tmp_path: Path
) -> Iterator[tuple[Server, set[int], list[Websocket]]]:
    """The Quart example under an ASGI server, websockets open on every worker.

    Parametrized indirectly with the function that makes the server's command.
    Every worker listens: a probe has reached every websocket.
    """
    command = server_workers(request.param(), WORKERS)
    with serving(
        command[0], command, WORKERS, redis_server.url, tmp_path, spawned=True
    ) as server:
        pids = server.wait_started()
        websockets = websockets_on_every_worker(server, pids)
        try:
            until_every_websocket_hears(server, websockets)
            yield server, pids, websockets
        finally:
            for ws in websockets:
                ws.close()


@pytest.mark.parametrize("asgi_websockets", ASGI_SERVERS, indirect=True)
def test_a_message_posted_to_one_worker_reaches_every_websocket_of_every_worker(
    asgi_websockets: tuple[Server, set[int], list[Websocket]],
) -> None:
    server, pids, websockets = asgi_websockets

    sender = post_message(server, "hello, every worker")

    for ws in websockets:
        message = ws.receive_until("hello, every worker")
        assert message["worker_pid"] == ws.pid
        assert message["sender_pid"] == sender
    assert {ws.pid for ws in websockets} == pids


@pytest.mark.parametrize("asgi_websockets", ASGI_SERVERS, indirect=True)
def test_sigterm_with_open_websockets_stops_every_workers_relay_cleanly(
    asgi_websockets: tuple[Server, set[int], list[Websocket]],
) -> None:
    server, pids, websockets = asgi_websockets

    def clients_leave() -> None:
        for ws in websockets:
            ws.close()

    # Since Python 3.12, asyncio's Server.wait_closed() waits for every
    # connection, and hypercorn 0.17 calls it before its graceful timeout:
    # its workers wait for the clients to leave (Deploying). uvicorn closes
    # them itself.
    hangs_on_clients = server.name == "hypercorn" and sys.version_info >= (3, 12)
    assert_clean_shutdown(server, pids, clients_leave if hangs_on_clients else None)


# hypercorn does not replace a dead worker: it stops the server (Deploying).
@pytest.mark.parametrize("asgi_websockets", [ASGI_SERVERS[1]], indirect=True)
def test_a_killed_uvicorn_worker_is_replaced_and_every_websocket_hears_again(
    asgi_websockets: tuple[Server, set[int], list[Websocket]],
) -> None:
    server, pids, websockets = asgi_websockets
    killed = min(pids)

    os.kill(killed, signal.SIGKILL)

    def replaced() -> set[int] | None:
        # wait_started() waits for as many workers as before, all listening.
        now = server.wait_started()
        return now if killed not in now else None

    now = wait_for(replaced, "uvicorn to replace the killed worker")
    (newcomer,) = now - pids
    survivors = [ws for ws in websockets if ws.pid != killed]
    fresh = websockets_on_every_worker(server, now)
    try:
        sender = post_message(server, "after the kill")
        for ws in survivors + fresh:
            assert ws.receive_until("after the kill")["sender_pid"] == sender
        assert newcomer in {ws.pid for ws in fresh}
    finally:
        for ws in fresh:
            ws.close()
