"""Relaying between real worker processes, through a real redis-server."""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
import typing as t
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytest.importorskip("redis")

from tests.relay_workers.redis_server import RedisServer, redis_server_path

pytestmark = pytest.mark.skipif(
    redis_server_path() is None,
    reason="redis-server is not on PATH (apt-get install redis-server)",
)

WORKER = Path(__file__).parent / "relay_workers" / "worker.py"
TIMEOUT = 15.0
"""Seconds any one expectation may take before the test fails."""


class Worker:
    """A worker process, read line by line in a thread so that no read can hang."""

    def __init__(self, url: str, mode: str, *options: str) -> None:
        self.mode = mode
        self.process = subprocess.Popen(
            [sys.executable, str(WORKER), url, mode, *options],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        self.pid = self.process.pid
        self.events: list[dict[str, t.Any]] = []
        self._lines: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def command(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()

    def expect(self, wanted: Callable[[str], bool], what: str) -> None:
        """Read lines until one is ``wanted``, keeping the events read meanwhile."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"{self.mode} worker {self.pid}: no {what} in {TIMEOUT} s")
            if line is None:
                pytest.fail(f"{self.mode} worker {self.pid} exited, waiting for {what}")
            if line.startswith("{"):
                self.events.append(json.loads(line))
            if wanted(line):
                return

    def drain(self) -> None:
        """Keep the events printed so far, without waiting for more."""
        while True:
            try:
                line = self._lines.get_nowait()
            except queue.Empty:
                return
            if line is None:
                self._lines.put(None)  # for expect() to report the exit
                return
            if line.startswith("{"):
                self.events.append(json.loads(line))

    def events_tagged(self, tag: str) -> list[dict[str, t.Any]]:
        return [e for e in self.events if e["kwargs"]["tag"] == tag]

    def wait_for_events(self, tag: str, count: int) -> None:
        if len(self.events_tagged(tag)) < count:  # else read while expecting else
            self.expect(
                lambda _: len(self.events_tagged(tag)) >= count, f"{tag} x{count}"
            )

    def quit(self) -> int:
        if self.process.poll() is None:
            self.command("quit")
        returncode = self.process.wait(TIMEOUT)
        self._reader.join(TIMEOUT)
        assert self.process.stdin is not None
        self.process.stdin.close()
        return returncode

    def kill(self) -> None:
        self.process.kill()
        self.quit()

    def _read(self) -> None:
        assert self.process.stdout is not None
        with self.process.stdout:
            for line in self.process.stdout:
                self._lines.put(line.rstrip("\n"))
        self._lines.put(None)


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture
def workers(redis_server: RedisServer) -> Iterator[list[Worker]]:
    started: list[Worker] = []
    try:
        for mode in ("thread", "asyncio", "trio"):
            started.append(Worker(redis_server.url, mode))
        for worker in started:
            worker.expect(lambda line: line == "ready", "ready")
        yield started
        assert [worker.quit() for worker in started] == [0, 0, 0]
    finally:
        for worker in started:
            if worker.process.poll() is None:
                worker.kill()


def send(worker: Worker, count: int, tag: str) -> None:
    worker.command(f"send {count} {tag}")
    worker.expect(lambda line: line == f"sent {tag}", f"sent {tag}")


def test_events_reach_every_other_worker_intact_and_in_order(
    workers: list[Worker],
) -> None:
    count = 100
    for worker in workers:
        send(worker, count, f"from-{worker.mode}")
    for receiver in workers:
        others = [w for w in workers if w is not receiver]
        for sender in others:
            receiver.wait_for_events(f"from-{sender.mode}", count)
        for sender in others:
            got = receiver.events_tagged(f"from-{sender.mode}")
            assert [e["kwargs"]["number"] for e in got] == list(range(count))
            assert {e["origin_pid"] for e in got} == {sender.pid}
            assert got[0]["kwargs"] == {
                "tag": f"from-{sender.mode}",
                "number": 0,
                "pid": sender.pid,
                "nested": {"list": [1, 2.5, None, True], "text": "héllo ✓"},
            }
        # Never its own events, and nothing twice.
        assert not receiver.events_tagged(f"from-{receiver.mode}")
        assert len(receiver.events) == count * len(others)


def test_delivery_resumes_after_redis_is_killed_and_restarted(
    redis_server: RedisServer, workers: list[Worker]
) -> None:
    sender, *receivers = workers
    send(sender, 10, "before")
    for receiver in receivers:
        receiver.wait_for_events("before", 10)

    redis_server.kill()
    send(sender, 10, "during")  # lost: delivery is at-most-once
    redis_server.start()

    # Probe until every receiver is subscribed again and the sender publishes.
    deadline = time.monotonic() + TIMEOUT
    for receiver in receivers:
        while not receiver.events_tagged("probe"):
            assert time.monotonic() < deadline, "delivery did not resume"
            send(sender, 1, "probe")
            time.sleep(0.05)
            receiver.drain()
    send(sender, 50, "after")
    for receiver in receivers:
        receiver.wait_for_events("after", 50)
        numbers = [e["kwargs"]["number"] for e in receiver.events_tagged("after")]
        assert numbers == list(range(50))
    assert all(worker.process.poll() is None for worker in workers)


def test_a_restarted_worker_refuses_a_capture_older_than_max_age(
    redis_server: RedisServer,
) -> None:
    redis = pytest.importorskip("redis")
    sender = Worker(redis_server.url, "thread")
    listener: Worker | None = None
    client = redis.Redis.from_url(redis_server.url)
    capturer = client.pubsub()
    try:
        sender.expect(lambda line: line == "ready", "ready")
        capturer.subscribe("tests:test-event")
        assert capturer.get_message(timeout=TIMEOUT)["type"] == "subscribe"
        send(sender, 1, "captured")
        captured = capturer.get_message(timeout=TIMEOUT)
        assert captured is not None
        time.sleep(0.6)  # the capture grows older than the new worker's max_age
        listener = Worker(redis_server.url, "asyncio", "0.5")
        listener.expect(lambda line: line == "ready", "ready")

        client.publish("tests:test-event", captured["data"])
        send(sender, 1, "fresh")
        listener.wait_for_events("fresh", 1)
        assert listener.events_tagged("captured") == []
        assert [listener.quit(), sender.quit()] == [0, 0]
    finally:
        capturer.close()
        client.close()
        for worker in (sender, listener):
            if worker is not None and worker.process.poll() is None:
                worker.kill()
