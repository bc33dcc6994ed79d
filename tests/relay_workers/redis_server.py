"""A throwaway ``redis-server`` on a free loopback port, with persistence off."""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from types import TracebackType

START_TIMEOUT = 10.0
"""Seconds a redis-server may take to accept connections."""


def redis_server_path() -> str | None:
    """Return the path of ``redis-server``, or None when it is not installed."""
    return shutil.which("redis-server")


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RedisServer:
    """One ``redis-server`` process, which can be killed and started again.

    It listens on 127.0.0.1 only, works in a temporary directory, and saves
    nothing: no RDB snapshots, no append-only file. ``DEBUG`` is enabled for
    local clients, for the tests that make Redis sleep.

    :param password: Required of clients (``requirepass``), and put in the URL.
    :param args: More command-line options, such as an output-buffer limit.
    """

    def __init__(
        self, *, password: str | None = None, args: tuple[str, ...] = ()
    ) -> None:
        path = redis_server_path()
        if path is None:
            msg = (
                "redis-server is not on PATH: install it (apt-get install redis-server)"
            )
            raise RuntimeError(msg)
        self._path = path
        self._dir = tempfile.TemporaryDirectory(prefix="anysignal-redis-")
        self.port = free_port()
        self._args = args + (("--requirepass", password) if password else ())
        auth = f":{password}@" if password else ""
        self.url = f"redis://{auth}127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.kill()
        self._dir.cleanup()

    def start(self) -> None:
        """Start the server on its port, and wait until it accepts connections."""
        self._process = subprocess.Popen(
            [
                self._path,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--dir",
                self._dir.name,
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
                "--enable-debug-command",
                "local",
                *self._args,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while not self._answers_ping():
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.kill()
                msg = f"redis-server did not start on port {self.port}"
                raise RuntimeError(msg)
            time.sleep(0.01)

    def kill(self) -> None:
        """Kill the server at once, as a crash would, and reap it."""
        if self._process is not None:
            self._process.kill()
            self._process.wait(START_TIMEOUT)
            self._process = None

    def _answers_ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                # -NOAUTH answers too, when a password is required.
                return sock.recv(16).startswith((b"+PONG", b"-NOAUTH"))
        except OSError:
            return False
