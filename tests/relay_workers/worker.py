"""A worker process of the multi-process relay tests.

Usage: ``python worker.py URL MODE [MAX_AGE]``, MODE being ``thread``,
``asyncio`` or ``trio``: how the worker listens; MAX_AGE is the relay's
``max_age``, 30 seconds by default. It prints ``ready`` once subscribed, then
one JSON line per event received from another worker. It reads commands from
stdin, one a line:

``send N TAG``
    send N events, numbered from 0, then print ``sent TAG``.
``quit``
    close the relay and exit.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import typing as t

import anyio
import anyio.to_thread

from anysignal import Namespace
from anysignal.relay import Origin, Relay

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
        count, tag = int(command[1]), command[2]
        for number in range(count):
            event.send(None, **kwargs_for(tag, number))
        sent(relay, tag)


async def run_async(relay: Relay) -> None:
    async with relay.listening():
        await anyio.to_thread.run_sync(announce_ready, relay)
        while True:
            line = await anyio.to_thread.run_sync(sys.stdin.readline)
            command = line.split()
            if not command or command[0] == "quit":
                return
            count, tag = int(command[1]), command[2]
            for number in range(count):
                await event.send_async(None, **kwargs_for(tag, number))
            await anyio.to_thread.run_sync(sent, relay, tag)


def announce_ready(relay: Relay) -> None:
    if not relay.wait_listening(READY_TIMEOUT):
        sys.exit("relay did not subscribe in time")
    say("ready")


def sent(relay: Relay, tag: str) -> None:
    relay.flush()
    say(f"sent {tag}")


def main() -> None:
    url, mode, *max_age = sys.argv[1:]
    # Short backoff: the tests restart Redis and wait for delivery to resume.
    with Relay(
        url,
        prefix="tests:",
        signals=[event],
        secret=SECRET,
        backoff=(0.05, 0.2),
        max_age=float(max_age[0]) if max_age else 30.0,
    ) as relay:
        if mode == "thread":
            run_thread(relay)
        else:
            anyio.run(run_async, relay, backend=mode)


if __name__ == "__main__":
    main()
