"""Fixtures and helpers of the relay tests, loaded by tests/conftest.py."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import typing as t
from collections.abc import Callable, Iterator

import pytest

from anysignal import Signal

from .redis_server import RedisServer, redis_server_path

if t.TYPE_CHECKING:
    from anysignal.relay import Relay

TIMEOUT = 5.0
"""Seconds any one expectation may take before the test fails."""
PREFIX = "test:"
SECRET = "sixteen or more bytes of secret"

MakeRelay = Callable[..., "Relay"]
Received = list[tuple[object, dict[str, t.Any]]]

needs_redis = pytest.mark.skipif(
    redis_server_path() is None,
    reason="redis-server is not on PATH (apt-get install redis-server)",
)


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture
def make_relay(redis_server: RedisServer) -> Iterator[MakeRelay]:
    """Make signed relays on the test server, with a short backoff; close them after."""
    from anysignal.relay import Relay

    made: list[Relay] = []

    def make(*signals: Signal, **options: t.Any) -> Relay:
        defaults: dict[str, t.Any] = {"prefix": PREFIX, "backoff": (0.05, 0.2)}
        if not options.get("insecure"):
            defaults["secret"] = SECRET
        options = {**defaults, **options}
        relay = Relay(options.pop("url", redis_server.url), **options)
        made.append(relay)
        relay.add(*signals)  # type: ignore[arg-type]
        return relay

    yield make
    for relay in made:
        relay.close()


@pytest.fixture
def raw_client(redis_server: RedisServer) -> Iterator[t.Any]:
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(redis_server.url)
    yield client
    client.close()


def recorder(signal: Signal) -> Received:
    """Connect a receiver that records each ``(sender, kwargs)`` it gets."""
    received: Received = []

    def record(sender: object, **kwargs: t.Any) -> None:
        received.append((sender, kwargs))

    signal.connect(record, weak=False)
    return received


def wait_until(done: Callable[[], bool], what: str, timeout: float = TIMEOUT) -> None:
    """Poll ``done`` until it is true; fail naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    while not done():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def listening_in_thread(relay: Relay) -> Relay:
    relay.start_in_thread()
    assert relay.wait_listening(TIMEOUT)
    return relay


def envelope(signal: str = "x", **changes: t.Any) -> bytes:
    """An unsigned envelope of the current version, stamped now."""
    fields: dict[str, t.Any] = {
        "v": 2,
        "signal": signal,
        "origin": {"pid": 1, "host": "elsewhere", "id": "raw"},
        "seq": 1,
        "ts": int(time.time() * 1000),
        "kwargs": {"n": 1},
    }
    return json.dumps({**fields, **changes}, separators=(",", ":")).encode()


def signed(channel: str, body: bytes, secret: str = SECRET) -> bytes:
    """Sign ``body`` for ``channel``, as the relay's documented scheme says.

    Written from the description, not from the relay's code: it checks that
    the two agree.
    """
    channel_bytes = channel.encode()
    mac = hmac.new(secret.encode(), b"%d:" % len(channel_bytes), hashlib.sha256)
    mac.update(channel_bytes + body)
    return body[:-1] + b',"sig":"' + mac.hexdigest().encode() + b'"}'


def relay_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """The records of the ``anysignal.relay`` logger that caplog holds."""
    return [r for r in caplog.records if r.name == "anysignal.relay"]
