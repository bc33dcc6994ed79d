"""A process that forks with a relay listening, for tests/test_relay_fork.py.

Usage: ``python forking.py URL MODE``. MODE ``thread``: the relay listens in a
thread (as ``anysignal.flask.init_relay`` does) when the process forks; the
parent and the child each print ``ready PID`` once listening, then ``got PID
N`` for each event ``n=N`` they receive. The child closes its relay after the
first event and prints ``closed PID``; the parent goes on until it has two
events. MODE ``asyncio``: the process forks inside ``async with
relay.listening()``; the child prints ``listening`` or ``deaf``.
"""

from __future__ import annotations

import os
import sys
import threading
import typing as t
import warnings

import anyio
import anyio.to_thread

from anysignal import Namespace
from anysignal.relay import Relay

SECRET = "the fork tests' shared secret"
TIMEOUT = 10.0

event = Namespace().signal("fork-test")
got = threading.Condition()
numbers: list[int] = []


@event.connect_via(event.ANY)
def record(sender: object, **kwargs: t.Any) -> None:
    with got:
        numbers.append(kwargs["n"])
        say(f"got {os.getpid()} {kwargs['n']}")
        got.notify_all()


def say(line: str) -> None:
    # One write per line: print() writes the text and the newline apart, and
    # the parent's and the child's lines, on one pipe, would interleave.
    os.write(1, (line + "\n").encode())


def wait_events(count: int) -> None:
    with got:
        if not got.wait_for(lambda: len(numbers) >= count, TIMEOUT):
            sys.exit(f"{os.getpid()}: no {count} event(s) within {TIMEOUT} s")


def fork() -> int:
    # Python 3.12+ warns that forking a process with threads may deadlock the
    # child: the relay's threads are why, and the relay handles its own.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return os.fork()


def run_thread(relay: Relay) -> None:
    relay.start_in_thread()
    assert relay.wait_listening(TIMEOUT)
    pid = fork()
    if not relay.wait_listening(TIMEOUT):
        sys.exit(f"{os.getpid()}: not listening after the fork")
    say(f"ready {os.getpid()}")
    if pid == 0:
        wait_events(1)
        relay.close()  # closes the child's connections, never the parent's
        say(f"closed {os.getpid()}")
        os._exit(0)  # a forked child never runs its parent's exit handlers
    wait_events(2)
    os.waitpid(pid, 0)
    relay.close()


async def run_asyncio(relay: Relay) -> None:
    async with relay.listening():
        assert await anyio.to_thread.run_sync(relay.wait_listening, TIMEOUT)
        if fork() == 0:
            listening = relay.wait_listening(1.0)
            say("listening" if listening else "deaf")
            os._exit(0)
        os.wait()


def main() -> None:
    url, mode = sys.argv[1:]
    relay = Relay(url, prefix="fork:", signals=[event], secret=SECRET)
    if mode == "thread":
        run_thread(relay)
    else:
        anyio.run(run_asyncio, relay)
        relay.close()


if __name__ == "__main__":
    main()
