"""Bench: a relayed signal between two processes, against raw Redis pub/sub.

Both cases use redis-py's synchronous client on the same redis-server: the raw
case (the floor) publishes and subscribes with it directly; the relay case
sends an anysignal signal in one process and receives it in another. Each is
measured twice: a burst (events per second, sender to last receipt) and a
paced run (latency, p50 and p99, with no queue building up).

Usage: ``python benchmarks/relay_bench.py [--quick] [--url redis://...]``;
without ``--url`` it starts a throwaway redis-server (which must be on PATH).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import sys
import time
import typing as t
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHANNEL = "bench:event"
READY_TIMEOUT = 10.0
SECRET = "the relay benchmark's shared secret"
"""Relays sign, as in production: the relay case pays for HMAC both ways."""

if t.TYPE_CHECKING:
    from multiprocessing.queues import Queue
    from multiprocessing.synchronize import Event


def relay_case(url: str) -> tuple[Callable[..., None], Callable[[], None]]:
    """Return ``(send, close)`` for the relay: send(i=, t=) relays one event."""
    from anysignal import Namespace
    from anysignal.relay import Relay

    event = Namespace().signal("event")
    relay = Relay(url, prefix="bench:", signals=[event], secret=SECRET)

    def send(**kwargs: int) -> None:
        event.send(None, **kwargs)

    def close() -> None:
        relay.flush()
        relay.close()

    return send, close


def raw_case(url: str) -> tuple[Callable[..., None], Callable[[], None]]:
    """Return ``(send, close)`` for raw pub/sub: publish one JSON message."""
    import json

    import redis

    client = redis.Redis.from_url(url)

    def send(**kwargs: int) -> None:
        client.publish(CHANNEL, json.dumps(kwargs))

    return send, client.close


def receive(
    url: str, case: str, count: int, ready: Event, results: Queue[list[int]]
) -> None:
    """In the receiving process: time ``count`` events, then report them."""
    received: list[int] = []  # per event: receipt time minus send time, in ns

    def record(sent_ns: int) -> None:
        received.append(time.perf_counter_ns() - sent_ns)

    if case == "raw":
        import json

        import redis

        with redis.Redis.from_url(url) as client, client.pubsub() as pubsub:
            pubsub.subscribe(CHANNEL)
            pubsub.get_message(timeout=READY_TIMEOUT)  # the confirmation
            ready.set()
            while len(received) < count:
                message = pubsub.get_message(timeout=READY_TIMEOUT)
                if message is not None and message["type"] == "message":
                    record(json.loads(message["data"])["t"])
    else:
        from anysignal import Namespace
        from anysignal.relay import Relay

        event = Namespace().signal("event")
        event.connect(lambda sender, *, i, t: record(t), weak=False)
        with Relay(url, prefix="bench:", signals=[event], secret=SECRET) as relay:
            relay.start_in_thread()
            relay.wait_listening(READY_TIMEOUT)
            ready.set()
            deadline = time.monotonic() + 120
            while len(received) < count and time.monotonic() < deadline:
                time.sleep(0.001)
    results.put([*received, time.perf_counter_ns()])


def run(url: str, case: str, count: int, pace: float) -> tuple[float, list[int]]:
    """Send ``count`` events, ``pace`` seconds apart; return (events/s, latencies)."""
    context = mp.get_context("spawn")
    ready, results = context.Event(), context.Queue()
    receiver = context.Process(target=receive, args=(url, case, count, ready, results))
    receiver.start()
    if not ready.wait(READY_TIMEOUT * 2):
        sys.exit(f"{case}: the receiving process did not start")
    send, close = (raw_case if case == "raw" else relay_case)(url)
    start = time.perf_counter_ns()
    for number in range(count):
        send(i=number, t=time.perf_counter_ns())
        if pace:
            time.sleep(pace)
    *latencies, end = results.get(timeout=120)
    close()
    receiver.join(READY_TIMEOUT)
    return count / ((end - start) / 1e9), latencies


def percentile(values: list[int], fraction: float) -> float:
    """The value below which ``fraction`` of ``values`` lie, in microseconds."""
    return (
        statistics.quantiles(values, n=100, method="inclusive")[
            round(fraction * 100) - 1
        ]
        / 1e3
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--url", help="a Redis URL; by default, a throwaway server")
    options = parser.parse_args()
    burst, paced = (2_000, 200) if options.quick else (50_000, 2_000)

    if options.url:
        measure(options.url, burst, paced)
    else:
        # The tests' throwaway server: loopback only, nothing saved.
        sys.path.insert(0, str(ROOT))
        from tests.relay_workers.redis_server import RedisServer

        with RedisServer() as server:
            measure(server.url, burst, paced)


def measure(url: str, burst: int, paced: int) -> None:
    rates = {}
    print(f"{'case':<6} {'events/s':>10} {'p50 us':>8} {'p99 us':>8}")
    for case in ("raw", "relay"):
        rates[case], _ = run(url, case, burst, pace=0)
        _, latencies = run(url, case, paced, pace=0.0005)
        print(
            f"{case:<6} {rates[case]:>10,.0f} {percentile(latencies, 0.5):>8.0f} "
            f"{percentile(latencies, 0.99):>8.0f}"
        )
    print(
        f"relay / raw throughput: {rates['relay'] / rates['raw']:.2f}x (goal >= 0.7x)"
    )


if __name__ == "__main__":
    main()
