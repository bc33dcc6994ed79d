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

from anysignal import Namespace, Signal

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


RECOVERY = 15.0
"""Seconds a relay may take to deliver again after a fault ends."""


class Link:
    """A sending relay, a listening one, and what the listener received."""

    def __init__(
        self,
        make_relay: MakeRelay,
        sender: dict[str, t.Any] | None = None,
        listener: dict[str, t.Any] | None = None,
    ) -> None:
        self.here, self.there = Namespace(), Namespace()
        self.received: Received = recorder(self.there.signal("x"))
        self.listener = listening_in_thread(
            make_relay(self.there.signal("x"), **(listener or {}))
        )
        self.sender: Relay = make_relay(self.here.signal("x"), **(sender or {}))
        self.sent = 0

    def send(self, **kwargs: t.Any) -> None:
        self.here.signal("x").send(None, n=self.sent, **kwargs)
        self.sent += 1

    def numbers(self) -> list[int]:
        return [kwargs["n"] for _, kwargs in self.received]

    def send_until_delivered(self) -> None:
        """Send probes until one arrives: the link works again, gaps are known."""
        deadline = time.monotonic() + RECOVERY
        first_probe = self.sent
        while not any(n >= first_probe for n in self.numbers()):
            assert time.monotonic() < deadline, "delivery did not resume"
            self.send()
            self.sender.flush(TIMEOUT)
            time.sleep(0.02)  # pacing: a probe every 20 ms until one arrives

    def assert_loss_counted(self) -> None:
        numbers = self.numbers()
        assert numbers == sorted(set(numbers)), (
            "an event delivered twice, or out of order"
        )
        lost = self.sent - len(numbers)
        assert self.sender.dropped + self.listener.missed == lost, (
            f"sent {self.sent}, delivered {len(numbers)}: {lost} lost, but "
            f"{self.sender.dropped} dropped + {self.listener.missed} missed"
        )


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
