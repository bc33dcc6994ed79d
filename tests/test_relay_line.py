"""The line: a relay thread's own connection to Redis, without redis-py's client."""

from __future__ import annotations

import threading
import time
import typing as t
from collections.abc import Iterator

import pytest

from anysignal import Namespace
from anysignal.relay import Relay
from anysignal.relay._line import _IDLE, Line, ok
from anysignal.relay._redis import Connector
from tests.relay_workers.fixtures import (
    MakeRelay,
    listening_in_thread,
    needs_redis,
    recorder,
    relay_records,
    wait_until,
)
from tests.relay_workers.redis_server import RedisServer

redis = pytest.importorskip("redis")

pytestmark = needs_redis


@pytest.fixture
def line(redis_server: RedisServer) -> Iterator[Line]:
    line = Connector(redis_server.url, timeout=5).line()
    yield line
    line.close()


def test_an_error_reply_takes_its_place_and_the_line_stays_in_step(
    line: Line,
) -> None:
    stored, wrong, read = line.run(
        ("SET", "line:k", "v"), ("LPUSH", "line:k", "x"), ("GET", "line:k")
    )
    assert (stored, read) == (b"OK", b"v")
    assert isinstance(wrong, redis.ResponseError)
    assert "WRONGTYPE" in str(wrong)
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        ok(wrong)
    assert line.run(("ECHO", "next")) == [b"next"]


def test_replies_are_bytes_even_where_the_url_asks_for_text(
    redis_server: RedisServer,
) -> None:
    line = Connector(redis_server.url + "?decode_responses=True", timeout=5).line()
    try:
        assert line.run(("ECHO", "é")) == ["é".encode()]
    finally:
        line.close()


def kill(client: t.Any, name: str) -> None:
    """Kill the connection named ``name``, as ``CLIENT KILL`` does."""
    [named] = [c for c in client.client_list() if c["name"] == name]
    assert client.client_kill_filter(_id=named["id"]) == 1


@pytest.fixture
def idle_timeout(raw_client: t.Any) -> Iterator[float]:
    """Redis closes connections idle for this many seconds, for one test."""
    raw_client.config_set("timeout", 1)
    yield 1.0
    raw_client.config_set("timeout", 0)


def test_a_line_killed_while_idle_reconnects_before_writing(
    line: Line, raw_client: t.Any
) -> None:
    assert line.run(("CLIENT", "SETNAME", "killed")) == [b"OK"]
    kill(raw_client, "killed")
    time.sleep(_IDLE * 1.1)  # idle long enough to be checked before a write
    assert line.run(("PING",)) == [b"PONG"]


def test_a_line_closed_by_redis_idle_timeout_reconnects_before_writing(
    line: Line, idle_timeout: float
) -> None:
    assert line.run(("PING",)) == [b"PONG"]
    time.sleep(idle_timeout * 2.5)  # Redis checks idle clients every 100 ms
    assert line.run(("PING",)) == [b"PONG"]


def test_a_connection_broken_during_a_run_raises_and_the_next_run_reconnects(
    line: Line, raw_client: t.Any
) -> None:
    assert line.run(("CLIENT", "SETNAME", "broken")) == [b"OK"]
    killer = threading.Timer(0.2, kill, (raw_client, "broken"))
    killer.start()
    with pytest.raises(redis.ConnectionError):
        line.run(("BLPOP", "line:nothing", 5))  # killed while it waits
    killer.join()
    assert line.run(("PING",)) == [b"PONG"]


def test_a_publisher_idle_past_redis_timeout_loses_nothing(
    make_relay: MakeRelay,
    idle_timeout: float,
    caplog: pytest.LogCaptureFixture,
) -> None:
    here, there = Namespace(), Namespace()
    received = recorder(there.signal("x"))
    listening_in_thread(make_relay(there.signal("x")))
    sender = make_relay(here.signal("x"))
    here.signal("x").send(None, n=0)
    wait_until(lambda: len(received) == 1, "the first event")
    time.sleep(idle_timeout * 2.5)
    here.signal("x").send(None, n=1)
    wait_until(lambda: len(received) == 2, "the event after the idle spell")
    assert sender.dropped == 0
    assert not [r for r in relay_records(caplog) if "cannot publish" in r.message]


def test_a_url_option_that_redis_py_refuses_fails_at_once(
    redis_server: RedisServer,
) -> None:
    with pytest.raises(ValueError, match="protocol must be either 2 or 3"):
        Relay(redis_server.url + "?protocol=4", secret="s" * 16)
