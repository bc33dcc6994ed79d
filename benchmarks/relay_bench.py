"""Bench: a relayed signal between two processes, against honest raw floors.

Four cases run side by side in one run, on one redis-server, with the same
payload, each sending in one process and receiving in another:

``pubsub floor``
    redis-py directly: each message JSON-encoded and HMAC-signed, then
    ``PUBLISH``-ed in pipelines of the relay's batch size (256); the receiver
    checks each signature and decodes the JSON.
``pubsub relay``
    a signed :class:`~anysignal.relay.Relay` on pub/sub.
``streams floor``
    the same, with ``XADD MAXLEN ~`` in pipelines, and a receiver that reads
    with blocking ``XREAD`` from the last entry it read.
``streams relay``
    a signed relay with ``transport=Streams()``.

Each case is measured three ways: a burst (events per second, from the first
send to the last receipt), a paced run (latency from the send in one process
until the receiver runs in the other, p50 and p99, with no queue building
up; the floors then publish each message at once), and the time one send
takes in the sending process (the median over the paced runs). The cases
take turns, :data:`ROUNDS` times: a slow spell of the machine then slows
each case alike, and the median rate of each is compared. Two rows put the
send's time in scale: a send of a signal that is not relayed, and the least
any hand-over to a publishing thread costs a paced send (a receiver that
appends the event to a deque and wakes the sleeping thread; nothing else).
The goals of issue 16 are printed with the numbers, never asserted.

The floors go through redis-py's client, as an application would, while the
relay's publishers and Streams listeners write on a connection of their own
(:mod:`anysignal.relay._line`), which saves redis-py's per-call work. With
``--own-connection``, the floors' senders and the Streams floor's receiver do
that too: the floors are then as lean as the relay's way with redis-py.

Usage: ``python benchmarks/relay_bench.py [--quick] [--url redis://...]
[--own-connection]``;
without ``--url`` it starts a throwaway redis-server (which must be on PATH).
"""

from __future__ import annotations

import argparse
import hmac
import json
import multiprocessing as mp
import statistics
import sys
import threading
import time
import typing as t
from collections import deque
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PREFIX = "bench:"
KEY = PREFIX + "event"
BATCH = 256
"""The relay's pipeline and read batch: the floors use the same."""
MAXLEN = 100_000
"""The retention of the Streams cases: above the largest burst, so that a
listener that falls behind the burst loses nothing (with the default 10,000,
a burst of 50,000 outruns a listener, which then counts the trimmed events as
missed): the burst measures throughput, not the retention."""
READY_TIMEOUT = 10.0
SECRET = "the relay benchmark's shared secret"
"""Every case signs and checks, as a relay does in production."""
PACE = 0.0005
"""Seconds between two sends of a paced run: the publisher sleeps in between."""
ROUNDS = 3
"""How many times each case runs, the cases taking turns (once with ``--quick``)."""
CASES = ("pubsub floor", "pubsub relay", "streams floor", "streams relay")

if t.TYPE_CHECKING:
    from multiprocessing.queues import Queue
    from multiprocessing.synchronize import Event

Send: t.TypeAlias = Callable[..., None]


def signed(body: bytes) -> bytes:
    """``body`` with its HMAC-SHA256 over the key's name and the body, as hex."""
    mac = hmac.digest(
        SECRET.encode(), b"%d:%s%s" % (len(KEY), KEY.encode(), body), "sha256"
    )
    return body + mac.hex().encode()


def verified(message: bytes) -> dict[str, int]:
    """Check the signature of ``message`` and decode it, as a receiver must."""
    body, sig = message[:-64], message[-64:]
    mac = hmac.digest(
        SECRET.encode(), b"%d:%s%s" % (len(KEY), KEY.encode(), body), "sha256"
    )
    if not hmac.compare_digest(mac.hex().encode(), sig):
        sys.exit("bench: a message with a wrong signature")
    return t.cast("dict[str, int]", json.loads(body))


def own_connection(client: t.Any) -> t.Any:
    """A connection of redis-py's, as ``client`` makes them, used on its own."""
    pool = client.connection_pool
    return pool.connection_class(**pool.connection_kwargs)


def floor_sender(
    url: str, streams: bool, batch: int, own: bool
) -> tuple[Send, Callable[[], None]]:
    """Return ``(send, close)`` for a floor: pipelines of ``batch`` messages.

    :param own: Write on a connection of its own, not through the client.
    """
    import redis

    client = redis.Redis.from_url(url)
    connection = own_connection(client)
    pending: list[bytes] = []

    def publish() -> None:
        if own:
            commands = [
                ("XADD", KEY, "MAXLEN", "~", MAXLEN, "*", "m", message)
                if streams
                else ("PUBLISH", KEY, message)
                for message in pending
            ]
            connection.send_packed_command(connection.pack_commands(commands))
            for _ in commands:
                connection.read_response()
        else:
            pipe = client.pipeline(transaction=False)
            for message in pending:
                if streams:
                    pipe.xadd(KEY, {b"m": message}, maxlen=MAXLEN, approximate=True)
                else:
                    pipe.publish(KEY, message)
            pipe.execute()
        pending.clear()

    def send(**kwargs: int) -> None:
        pending.append(signed(json.dumps(kwargs, separators=(",", ":")).encode()))
        if len(pending) >= batch:
            publish()

    def close() -> None:
        if pending:
            publish()
        connection.disconnect()
        client.close()

    return send, close


def relay_sender(
    url: str, streams: bool, count: int
) -> tuple[Send, Callable[[], None]]:
    """Return ``(send, close)`` for a relay: one send of a relayed signal.

    Its queue holds the whole burst: the bench measures throughput, not what
    a relay drops when a burst outruns Redis.
    """
    from anysignal import Namespace
    from anysignal.relay import Relay, Streams

    event = Namespace().signal("event")
    relay = Relay(
        url,
        prefix=PREFIX,
        signals=[event],
        secret=SECRET,
        transport=Streams(maxlen=MAXLEN) if streams else None,
        max_pending=count,
    )

    def send(**kwargs: t.Any) -> None:
        event.send(None, **kwargs)

    def close() -> None:
        relay.flush()
        relay.close()

    return send, close


def receive(  # noqa: PLR0917 - a Process target, given its arguments in order
    url: str,
    case: str,
    count: int,
    ready: Event,
    results: Queue[list[int]],
    own: bool,
) -> None:
    """In the receiving process: time ``count`` events, then report them."""
    received: list[int] = []  # per event: receipt time minus send time, in ns
    all_received = threading.Event()
    # The time of the last receipt: not of a relay's close, which waits for
    # its listener's last poll (up to poll_interval).
    end = [0]

    def record(sent_ns: int) -> None:
        end[0] = now = time.perf_counter_ns()
        received.append(now - sent_ns)
        if len(received) == count:
            all_received.set()

    if case == "pubsub floor":
        receive_pubsub(url, count, ready, record)
    elif case == "streams floor":
        receive_streams(url, count, ready, record, own)
    else:
        from anysignal import Namespace
        from anysignal.relay import Relay, Streams

        event = Namespace().signal("event")
        event.connect(lambda sender, *, i, t: record(t), weak=False)
        streams = Streams(maxlen=MAXLEN) if case == "streams relay" else None
        with Relay(
            url, prefix=PREFIX, signals=[event], secret=SECRET, transport=streams
        ) as relay:
            relay.start_in_thread()
            relay.wait_listening(READY_TIMEOUT)
            ready.set()
            deadline = time.monotonic() + 120
            # Missed events end the wait too: the bench reports, never hangs.
            # The receipts are timed in the listening thread; this one wakes
            # rarely, so that it takes the GIL from the listener rarely too.
            while not all_received.wait(0.05) and len(received) + relay.missed < count:
                if time.monotonic() > deadline:
                    sys.exit(f"{case}: {count - len(received)} events never came")
            if not all_received.is_set():  # some were missed: timed until known
                end[0] = time.perf_counter_ns()
    results.put([*received, end[0]])


def receive_pubsub(
    url: str, count: int, ready: Event, record: Callable[[int], None]
) -> None:
    import redis

    with redis.Redis.from_url(url) as client, client.pubsub() as pubsub:
        pubsub.subscribe(KEY)
        pubsub.get_message(timeout=READY_TIMEOUT)  # the confirmation
        ready.set()
        for _ in range(count):
            message = pubsub.get_message(timeout=READY_TIMEOUT)
            while message is None or message["type"] != "message":
                message = pubsub.get_message(timeout=READY_TIMEOUT)
            record(verified(message["data"])["t"])


def receive_streams(
    url: str, count: int, ready: Event, record: Callable[[int], None], own: bool
) -> None:
    import redis

    with redis.Redis.from_url(url) as client:
        info = client.xinfo_stream(KEY) if client.exists(KEY) else None
        last = info["last-generated-id"] if info else b"0-0"
        read = own_reader(client) if own else client_reader(client)
        ready.set()
        taken = 0
        while taken < count:
            for entries in read(last):
                for _, message in entries:
                    record(verified(message)["t"])
                    taken += 1
                last = entries[-1][0]  # read on after the last entry taken


Reader: t.TypeAlias = Callable[[bytes], list[list[tuple[bytes, bytes]]]]
"""Reads new entries after an id, blocking a while: per stream, (id, message)."""


def client_reader(client: t.Any) -> Reader:
    def read(last: bytes) -> list[list[tuple[bytes, bytes]]]:
        reply = client.xread({KEY: last}, count=BATCH, block=1000)
        return [
            [(entry, fields[b"m"]) for entry, fields in entries] for _, entries in reply
        ]

    return read


def own_reader(client: t.Any) -> Reader:
    connection = own_connection(client)

    def read(last: bytes) -> list[list[tuple[bytes, bytes]]]:
        command = ("XREAD", "COUNT", BATCH, "BLOCK", 1000, "STREAMS", KEY, last)
        connection.send_packed_command(connection.pack_commands([command]))
        reply = connection.read_response(disable_decoding=True) or []
        streams = reply.values() if isinstance(reply, dict) else (e for _, e in reply)
        # An entry's fields come as a flat list: [b"m", message].
        return [[(entry, fields[1]) for entry, fields in e] for e in streams]

    return read


class Run(t.NamedTuple):
    rate: float
    """Events per second, from the first send to the last receipt."""
    latencies: list[int]
    """Send to receipt, per event, in ns."""
    send_ns: list[int]
    """The time each send took in the sending process, in ns."""


def run(url: str, case: str, count: int, pace: float, own: bool) -> Run:
    """Send ``count`` events, ``pace`` seconds apart (0: a burst).

    :param own: Whether floors use connections of their own.
    """
    import redis

    # Each run starts from an empty stream (and stream index), as a relay's
    # first run would.
    with redis.Redis.from_url(url) as client:
        client.delete(KEY, KEY + "\x00")
    context = mp.get_context("spawn")
    ready, results = context.Event(), context.Queue()
    receiver = context.Process(
        target=receive, args=(url, case, count, ready, results, own)
    )
    receiver.start()
    if not ready.wait(READY_TIMEOUT * 2):
        sys.exit(f"{case}: the receiving process did not start")
    streams = case.startswith("streams")
    if case.endswith("floor"):
        send, close = floor_sender(url, streams, 1 if pace else BATCH, own)
    else:
        send, close = relay_sender(url, streams, count)
    send_ns: list[int] = []
    start = time.perf_counter_ns()
    for number in range(count):
        before = time.perf_counter_ns()
        send(i=number, t=before)
        send_ns.append(time.perf_counter_ns() - before)
        if pace:
            time.sleep(pace)
    if not pace:
        close()  # the floor's last, partial pipeline is part of the burst
    *latencies, end = results.get(timeout=120)
    if pace:
        close()
    receiver.join(READY_TIMEOUT)
    return Run(count / ((end - start) / 1e9), latencies, send_ns)


def plain_send_ns(count: int, pace: float) -> list[int]:
    """The time each send of a signal that is not relayed takes, in ns.

    Paced as the relayed sends are: a send after a pause finds cold caches,
    and costs several times what it costs in a tight loop.
    """
    from anysignal import Namespace

    event = Namespace().signal("plain")
    event.connect(lambda sender, **kwargs: None, weak=False)
    times = []
    for number in range(count):
        time.sleep(pace)
        before = time.perf_counter_ns()
        event.send(None, i=number, t=before)
        times.append(time.perf_counter_ns() - before)
    return times


def handover_ns(count: int, pace: float) -> list[int]:
    """The least a paced send costs that hands its event to a sleeping thread.

    Its one receiver appends the event to a deque and, the consumer being
    asleep, wakes it by releasing a lock, the cheapest wake-up Python offers:
    a relayed send does that, and also checks and queues the event.
    """
    from anysignal import Namespace

    events: deque[dict[str, int]] = deque()
    wake = threading.Lock()
    wake.acquire()
    asleep = threading.Event()
    stop = False

    def consumer() -> None:
        while True:
            asleep.set()
            wake.acquire()
            if stop:
                return
            events.clear()

    def hand_over(sender: object, **kwargs: int) -> None:
        events.append(kwargs)
        if asleep.is_set():
            asleep.clear()
            wake.release()

    event = Namespace().signal("handed over")
    event.connect(hand_over, weak=False)
    thread = threading.Thread(target=consumer, daemon=True)
    thread.start()
    times = []
    for number in range(count):
        time.sleep(pace)
        asleep.wait()
        before = time.perf_counter_ns()
        event.send(None, i=number, t=before)
        times.append(time.perf_counter_ns() - before)
    asleep.wait()  # done with the last event: then told to stop
    stop = True
    wake.release()
    thread.join()
    return times


def percentile(values: list[int], fraction: float) -> float:
    """The value below which ``fraction`` of ``values`` lie, in microseconds."""
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[round(fraction * 100) - 1] / 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--url", help="a Redis URL; by default, a throwaway server")
    parser.add_argument(
        "--own-connection",
        action="store_true",
        help="floors write (and the Streams floor reads) on a connection of their "
        "own, as the relay does, instead of through redis-py's client",
    )
    options = parser.parse_args()
    burst, paced = (2_000, 200) if options.quick else (50_000, 2_000)
    rounds = 1 if options.quick else ROUNDS

    own = options.own_connection
    if options.url:
        measure(options.url, burst, paced, rounds, own)
    else:
        # The tests' throwaway server: loopback only, nothing saved.
        sys.path.insert(0, str(ROOT))
        from tests.relay_workers.redis_server import RedisServer

        with RedisServer() as server:
            measure(server.url, burst, paced, rounds, own)


def measure(url: str, burst: int, paced: int, rounds: int, own: bool) -> None:
    rates: dict[str, list[float]] = {case: [] for case in CASES}
    latencies: dict[str, list[int]] = {case: [] for case in CASES}
    sends: dict[str, list[int]] = {case: [] for case in CASES}
    for _ in range(rounds):
        for case in CASES:
            rates[case].append(run(url, case, burst, 0, own).rate)
            paced_run = run(url, case, paced, PACE, own)
            latencies[case] += paced_run.latencies
            sends[case] += paced_run.send_ns
    rate = {case: statistics.median(rates[case]) for case in CASES}
    p50 = {case: percentile(latencies[case], 0.5) for case in CASES}
    send = {case: statistics.median(sends[case]) / 1e3 for case in CASES}

    print(f"{'case':<14} {'events/s':>10} {'p50 us':>8} {'p99 us':>8} {'send us':>8}")
    for case in CASES:
        p99 = percentile(latencies[case], 0.99)
        print(
            f"{case:<14} {rate[case]:>10,.0f} {p50[case]:>8.0f} {p99:>8.0f} "
            f"{send[case]:>8.1f}"
        )
    plain = statistics.median(plain_send_ns(paced, PACE)) / 1e3
    print(f"{'not relayed':<14} {'':>10} {'':>8} {'':>8} {plain:>8.1f}")
    handed = statistics.median(handover_ns(paced, PACE)) / 1e3
    print(f"{'hand-over':<14} {'':>10} {'':>8} {'':>8} {handed:>8.1f}")
    print()
    for transport, goal in (("pubsub", 0.9), ("streams", 0.8)):
        ratio = rate[f"{transport} relay"] / rate[f"{transport} floor"]
        report(
            f"{transport} relay / floor throughput", ratio, f">= {goal}x", ratio >= goal
        )
    for transport in ("pubsub", "streams"):
        extra = p50[f"{transport} relay"] - p50[f"{transport} floor"]
        report(f"{transport} relay p50 - floor p50", extra, "<= 100 us", extra <= 100)
    for transport in ("pubsub", "streams"):
        cost = send[f"{transport} relay"]
        report(f"{transport} relay send() in the sender", cost, "<= 5 us", cost <= 5)


def report(what: str, value: float, goal: str, met: bool) -> None:
    print(f"{what:<36} {value:>8.2f}   goal {goal:<10} {'met' if met else 'NOT MET'}")


if __name__ == "__main__":
    main()
