"""A worker process of the multi-process relay tests.

Usage: ``python worker.py URL MODE [MAX_AGE [TRANSPORT]]``, MODE being
``thread``, ``asyncio`` or ``trio``: how the worker listens; MAX_AGE is the
relay's ``max_age``, 30 seconds by default; TRANSPORT is ``pubsub`` (the
default) or ``streams``. It prints ``ready`` once subscribed, then
one JSON line per event received from another worker. It reads commands from
stdin, one a line:

``send N TAG [INTERVAL]``
    send N events, numbered from 0, INTERVAL seconds apart (none by
    default), then print ``sent TAG``.
``stats``
    print ``stats DROPPED MISSED``: the relay's counts of lost events.
``quit``
    close the relay and exit.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import typing as t

import anyio
import anyio.to_thread

from anysignal import Namespace
from anysignal.relay import Origin, Relay, Streams

SECRET = "a shared secret of the relay tests"
READY_TIMEOUT = 10.0

signals = Namespace()
event = signals.signal("test-event")
_print_lock = threading.Lock()


def say(line: str) -> None:
    # Receivers and the command loop may run in different threads.
    with _print_lock:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()


@event.connect_via(event.ANY)
def record(sender: object, **kwargs: t.Any) -> None:
    if isinstance(sender, Origin):
        say(json.dumps({"origin_pid": sender.pid, "kwargs": kwargs}))


def kwargs_for(tag: str, number: int) -> dict[str, t.Any]:
    """The keyword arguments of an event: varied JSON, to check they arrive intact."""
    return {
        "tag": tag,
        "number": number,
        "pid": os.getpid(),
        "nested": {"list": [1, 2.5, None, True], "text": "héllo ✓"},
    }


def commands() -> t.Iterator[list[str]]:
    for line in sys.stdin:
        yield line.split()


def run_thread(relay: Relay) -> None:
    relay.start_in_thread()
    announce_ready(relay)
    for command in commands():
        if command[0] == "quit":
            return
        if command[0] == "stats":
            stats(relay)
            continue
        count, tag, interval = parse_send(command)
        for number in range(count):
            event.send(None, **kwargs_for(tag, number))
            if interval:
                time.sleep(interval)  # the pace the command asks for
        sent(relay, tag)


async def run_async(relay: Relay) -> None:
    async with relay.listening():
        await anyio.to_thread.run_sync(announce_ready, relay)
        while True:
            line = await anyio.to_thread.run_sync(sys.stdin.readline)
            command = line.split()
            if not command or command[0] == "quit":
                return
            if command[0] == "stats":
                stats(relay)
                continue
            count, tag, interval = parse_send(command)
            for number in range(count):
                await event.send_async(None, **kwargs_for(tag, number))
                if interval:
                    await anyio.sleep(interval)  # the pace the command asks for
            await anyio.to_thread.run_sync(sent, relay, tag)


def parse_send(command: list[str]) -> tuple[int, str, float]:
    """Return the count, tag and interval of a ``send`` command."""
    interval = float(command[3]) if len(command) > 3 else 0.0
    return int(command[1]), command[2], interval


def stats(relay: Relay) -> None:
    say(f"stats {relay.dropped} {relay.missed}")


def announce_ready(relay: Relay) -> None:
    if not relay.wait_listening(READY_TIMEOUT):
        sys.exit("relay did not subscribe in time")
    say("ready")


def sent(relay: Relay, tag: str) -> None:
    relay.flush()
    say(f"sent {tag}")


def main() -> None:
    url, mode, *options = sys.argv[1:]
    max_age = float(options[0]) if options else 30.0
    streams = len(options) > 1 and options[1] == "streams"
    # Short backoff: the tests restart Redis and wait for delivery to resume.
    with Relay(
        url,
        prefix="tests:",
        signals=[event],
        secret=SECRET,
        backoff=(0.05, 0.2),
        max_age=max_age,
        transport=Streams() if streams else None,
    ) as relay:
        if mode == "thread":
            run_thread(relay)
        else:
            anyio.run(run_async, relay, backend=mode)


if __name__ == "__main__":
    main()
