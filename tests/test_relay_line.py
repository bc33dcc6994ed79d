"""The line: a relay thread's own connection to Redis, without redis-py's client."""

from __future__ import annotations

import typing as t

import pytest

from anysignal.relay._line import ok
from anysignal.relay._redis import Connector
from tests.relay_workers.fixtures import needs_redis
from tests.relay_workers.redis_server import RedisServer

redis = pytest.importorskip("redis")

pytestmark = needs_redis


def test_an_error_reply_takes_its_place_and_the_line_stays_in_step(
    redis_server: RedisServer,
) -> None:
    line = Connector(redis_server.url, timeout=5).line()
    try:
        stored, wrong, read = line.run(
            ("SET", "line:k", "v"), ("LPUSH", "line:k", "x"), ("GET", "line:k")
        )
        assert (stored, read) == (b"OK", b"v")
        assert isinstance(wrong, redis.ResponseError)
        assert "WRONGTYPE" in str(wrong)
        with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
            ok(wrong)
        assert line.run(("ECHO", "next")) == [b"next"]
    finally:
        line.close()


def test_replies_are_bytes_even_where_the_url_asks_for_text(
    redis_server: RedisServer,
) -> None:
    line = Connector(redis_server.url + "?decode_responses=True", timeout=5).line()
    try:
        assert line.run(("ECHO", "é")) == ["é".encode()]
    finally:
        line.close()


def test_a_killed_connection_fails_one_run_and_the_next_reconnects(
    redis_server: RedisServer, raw_client: t.Any
) -> None:
    line = Connector(redis_server.url, timeout=5).line()
    try:
        assert line.run(("CLIENT", "SETNAME", "doomed")) == [b"OK"]
        [doomed] = [c for c in raw_client.client_list() if c["name"] == "doomed"]
        assert raw_client.client_kill_filter(_id=doomed["id"]) == 1
        with pytest.raises(redis.ConnectionError):
            line.run(("PING",))
        assert line.run(("PING",)) == [b"PONG"]
    finally:
        line.close()
