"""A relay in a process that forks: the child never shares a thread or socket.

The forking process is a subprocess (tests/relay_workers/forking.py): forking
the test process itself, with its threads, could deadlock the child.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("redis")

from anysignal import Namespace
from anysignal.relay import Relay
from tests.relay_workers.redis_server import RedisServer, redis_server_path

pytestmark = pytest.mark.skipif(
    redis_server_path() is None,
    reason="redis-server is not on PATH (apt-get install redis-server)",
)

FORKING = Path(__file__).parent / "relay_workers" / "forking.py"
SECRET = "the fork tests' shared secret"
TIMEOUT = 15.0


def start(url: str, mode: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(FORKING), url, mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_forked_child_listens_on_its_own_thread_and_connection(
    redis_server: RedisServer,
) -> None:
    process = start(redis_server.url, "thread")
    assert process.stdout is not None
    event = Namespace().signal("fork-test")
    try:
        ready = [process.stdout.readline().split() for _ in range(2)]
        assert [word for word, _ in ready] == ["ready", "ready"]
        pids = {int(pid) for _, pid in ready}
        assert process.pid in pids
        assert len(pids) == 2
        with Relay(redis_server.url, prefix="fork:", signals=[event], secret=SECRET):
            event.send(None, n=1)
            # The child closes its relay after the first event: the parent,
            # whose connection it must not have touched, still hears the second.
            lines = [process.stdout.readline().split() for _ in range(3)]
            event.send(None, n=2)
            out, err = process.communicate(timeout=TIMEOUT)
    finally:
        process.kill()
        process.wait(TIMEOUT)
    lines += [line.split() for line in out.splitlines()]
    (child,) = pids - {process.pid}
    assert process.returncode == 0, err
    assert sorted(lines) == sorted(
        [
            ["got", str(child), "1"],
            ["closed", str(child)],
            ["got", str(process.pid), "1"],
            ["got", str(process.pid), "2"],
        ]
    )
    assert "Traceback" not in err


def test_a_child_forked_inside_listening_says_it_does_not_listen(
    redis_server: RedisServer,
) -> None:
    process = start(redis_server.url, "asyncio")
    try:
        out, err = process.communicate(timeout=TIMEOUT)
    finally:
        process.kill()
        process.wait(TIMEOUT)
    assert process.returncode == 0, err
    assert out.split() == ["deaf"]
    assert "was forked inside 'async with relay.listening()'" in err
    assert "Enter relay.listening() in the child" in err
