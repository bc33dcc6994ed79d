"""The example apps under real servers: gunicorn and hypercorn, several workers.

Used by tests/test_deploy.py and by ``nox -s cluster``
(tests/relay_workers/cluster.py). Each server runs in a process group of its
own, bound to a free port on 127.0.0.1, with its log in a file; leaving the
``with`` block kills the whole group, whatever happened.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import typing as t
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager, suppress
from pathlib import Path
from types import TracebackType

import httpx

from anysignal import Namespace
from anysignal.relay import Origin, Relay

from .redis_server import free_port

EXAMPLES = Path(__file__).parents[2] / "examples"
SECRET = "the deployment tests' shared secret"
START_TIMEOUT = 30.0
"""Seconds a server may take to start all its workers (a busy 2-core machine)."""
TIMEOUT = 15.0
"""Seconds any one expectation may take before it fails."""

T = t.TypeVar("T")


def _running(pid: int) -> bool:
    """Whether process ``pid`` runs: exited, or a zombie nobody reaped, it does not."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    # The state is the first field after the parenthesised name.
    return stat.rpartition(")")[2].split()[0] != "Z"


def wait_for(check: Callable[[], T | None], what: str, timeout: float = TIMEOUT) -> T:
    """Poll ``check`` until it returns something; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while (result := check()) is None:
        if time.monotonic() > deadline:
            msg = f"timed out after {timeout} s waiting for {what}"
            raise TimeoutError(msg)
        time.sleep(0.02)
    return result


class Server:
    """A server process (gunicorn or hypercorn) serving an example app.

    :param name: Names the server in messages and its log file.
    :param command: The command after ``python -m``, without ``--bind``.
    :param workers: How many workers it runs.
    :param redis_url: The Redis the apps' relays use.
    :param log_dir: Where the server's log file goes.
    :param spawned: Whether workers are spawned (hypercorn, uvicorn) rather than forked
        children of the master (gunicorn): spawned workers are told apart
        from multiprocessing's helper processes by their command line.
    """

    def __init__(
        self,
        name: str,
        command: list[str],
        workers: int,
        redis_url: str,
        log_dir: Path,
        *,
        spawned: bool = False,
        prefix: str = "deploy:",
    ) -> None:
        self.name = name
        self.workers = workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_dir / f"{name}.log"
        self._spawned = spawned
        env = {
            **os.environ,
            "RELAY_URL": redis_url,
            "RELAY_SECRET": SECRET,
            "RELAY_PREFIX": prefix,
            "SETTINGS_PATH": str(log_dir / f"{name}-settings.json"),
            # The apps import anysignal as installed, and the examples by path.
            "PYTHONPATH": str(EXAMPLES),
            "PYTHONUNBUFFERED": "1",
        }
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", *command, *self._bind(command[0])],
                cwd=EXAMPLES,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group, killed as one
            )
        self.pid = self.process.pid

    def _bind(self, program: str) -> list[str]:
        """The options that bind ``program`` to 127.0.0.1 and this port only."""
        if program == "uvicorn":
            return ["--host", "127.0.0.1", "--port", str(self.port)]
        return ["--bind", f"127.0.0.1:{self.port}"]

    def log(self) -> str:
        """The server's output so far: its own log and the apps' lines."""
        return self.log_path.read_text(errors="replace")

    def worker_pids(self) -> set[int]:
        """The pids of the worker processes running right now."""
        pids = set()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue  # it exited meanwhile
            # The parent pid is the second field after the parenthesised name.
            ppid = int(stat.rpartition(")")[2].split()[1])
            if ppid == self.pid and (not self._spawned or b"spawn_main" in cmdline):
                pids.add(int(entry.name))
        return pids

    def wait_started(self) -> set[int]:
        """Wait until all workers run and the server answers; return their pids."""

        def started() -> set[int] | None:
            if self.process.poll() is not None:
                msg = (
                    f"{self.name} exited with {self.process.returncode}:\n{self.log()}"
                )
                raise RuntimeError(msg)
            pids = self.worker_pids()
            if len(pids) != self.workers:
                return None
            # Each worker's relay says when it listens: events sent before
            # that never reach it.
            log = self.log()
            if not all(
                re.search(rf"relay listening on \S+ in pid {pid}$", log, re.MULTILINE)
                for pid in pids
            ):
                return None
            try:
                httpx.get(self.url + "/", timeout=1)
            except httpx.TransportError:
                return None
            return pids

        return wait_for(started, f"{self.name} to start", START_TIMEOUT)

    def terminate(self, then: Callable[[], None] | None = None) -> int:
        """Stop the server gracefully, with SIGTERM; return its exit status.

        :param then: Called right after the signal, such as clients leaving.
        """
        workers = self.worker_pids()
        self.process.send_signal(signal.SIGTERM)
        if then is not None:
            then()
        try:
            status = self.process.wait(START_TIMEOUT)
        except subprocess.TimeoutExpired:
            msg = (
                f"{self.name} still runs {START_TIMEOUT} s after SIGTERM:\n{self.log()}"
            )
            raise TimeoutError(msg) from None
        # What the workers log as they stop is what the tests read: make sure
        # none is still stopping, whatever its main process waited for.
        wait_for(
            lambda: None if any(map(_running, workers)) else True,
            f"the workers of {self.name} to exit after their master",
            START_TIMEOUT,
        )
        return status

    def kill(self) -> None:
        """Kill the server and every process of its group at once, and reap it."""
        with suppress(ProcessLookupError):  # already gone, with its whole group
            os.killpg(self.pid, signal.SIGKILL)
        self.process.wait(START_TIMEOUT)


@contextmanager
def serving(*args: t.Any, **kwargs: t.Any) -> Iterator[Server]:
    """Run a :class:`Server` for the ``with`` block, and kill its group after."""
    server = Server(*args, **kwargs)
    try:
        yield server
    except BaseException:
        # Shown with the failure: what the server and the apps said.
        print(f"--- {server.name}'s log ---\n{server.log()}")
        raise
    finally:
        server.kill()


def gunicorn(worker_class: str, *, preload: bool) -> list[str]:
    """The gunicorn command that serves the Flask example with ``worker_class``."""
    command = ["gunicorn", "--worker-class", worker_class, "--no-control-socket"]
    if worker_class == "gthread":
        command += ["--threads", "4"]
    if preload:
        command.append("--preload")
    return [*command, "--graceful-timeout", "10", "flask_deployed:create_app()"]


def hypercorn() -> list[str]:
    """The hypercorn command that serves the Quart example."""
    return ["hypercorn", "--graceful-timeout", "2", "quart_deployed:app"]


def uvicorn() -> list[str]:
    """The uvicorn command that serves the Quart example."""
    return ["uvicorn", "--timeout-graceful-shutdown", "2", "quart_deployed:app"]


def server_workers(command: list[str], workers: int) -> list[str]:
    """``command`` with ``workers`` workers, before its app argument."""
    return [*command[:-1], "--workers", str(workers), command[-1]]


class Applied:
    """Watches the Flask example's ``settings-applied`` reports, as an operator.

    A relay of its own, in this process, with the app's prefix and secret.
    """

    def __init__(self, redis_url: str, prefix: str = "deploy:") -> None:
        signals = Namespace()
        # Changes are relayed too, unused: the relay would log each as an
        # event of a signal not relayed here.
        changed = signals.signal("settings-changed")
        self.signal = signals.signal("settings-applied")
        self.reports: list[dict[str, t.Any]] = []
        self._lock = threading.Lock()
        self.relay = Relay(
            redis_url, prefix=prefix, secret=SECRET, signals=[changed, self.signal]
        )
        self.signal.connect(self._record, weak=False)
        self.relay.start_in_thread()
        if not self.relay.wait_listening(TIMEOUT):
            msg = "the watcher's relay did not subscribe"
            raise TimeoutError(msg)

    def __enter__(self) -> Applied:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.relay.close()

    def _record(self, sender: object, /, **report: t.Any) -> None:
        if isinstance(sender, Origin):
            with self._lock:
                self.reports.append(report)

    def of_version(self, version: int) -> list[dict[str, t.Any]]:
        """The reports of ``version``, in the order they arrived."""
        with self._lock:
            return [r for r in self.reports if r["version"] == version]

    def post(self, server: Server, values: dict[str, t.Any]) -> dict[str, t.Any]:
        """Post new settings to whichever worker the kernel picks."""
        response = httpx.post(server.url + "/settings", json=values, timeout=TIMEOUT)
        response.raise_for_status()
        return t.cast("dict[str, t.Any]", response.json())

    def wait_applied(
        self, server: Server, version: int, pids: set[int], timeout: float = TIMEOUT
    ) -> list[dict[str, t.Any]]:
        """Wait until each of ``pids`` reports ``version``; return the reports."""

        def done() -> list[dict[str, t.Any]] | None:
            reports = self.of_version(version)
            return reports if pids <= {r["pid"] for r in reports} else None

        return wait_for(
            done,
            f"{server.name}: workers {sorted(pids)} to apply version {version}",
            timeout,
        )

    def until_all_listen(self, server: Server, pids: set[int]) -> None:
        """Post settings until every worker applies one version: all listen.

        Events sent before a worker's relay subscribed never reach it
        (delivery is at-most-once), so the tests start from here.
        """
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            version = self.post(server, {"probe": True})["version"]
            try:
                self.wait_applied(server, version, pids, timeout=0.5)
            except TimeoutError:
                if time.monotonic() > deadline:
                    raise
            else:
                return


class Websocket:
    """A websocket open on the Quart example, and the worker that serves it."""

    def __init__(self, server: Server) -> None:
        from websockets.sync.client import connect

        # websockets wants its connections entered as context managers.
        self._stack = ExitStack()
        self.connection = self._stack.enter_context(
            connect(server.url.replace("http", "ws", 1) + "/ws", open_timeout=TIMEOUT)
        )
        hello = self.receive()
        self.pid: int = hello["hello"]
        self.messages: list[dict[str, t.Any]] = []

    def receive(self, timeout: float = TIMEOUT) -> dict[str, t.Any]:
        """Wait for the next message."""
        import json

        return t.cast("dict[str, t.Any]", json.loads(self.connection.recv(timeout)))

    def receive_until(self, text: str, timeout: float = TIMEOUT) -> dict[str, t.Any]:
        """Keep messages until the one with ``text``; return it."""
        deadline = time.monotonic() + timeout
        while True:
            message = self.receive(max(0.0, deadline - time.monotonic()))
            self.messages.append(message)
            if message["text"] == text:
                return message

    def close(self) -> None:
        self._stack.close()


def websockets_on_every_worker(
    server: Server, pids: set[int], limit: int = 256
) -> list[Websocket]:
    """Open websockets until each worker of ``pids`` serves at least one.

    The kernel, not the client, decides which worker accepts a connection,
    and one worker may take most of them (ten in a row is common), so this
    opens new ones until all are covered (at most ``limit``).
    """
    opened: list[Websocket] = []
    try:
        while {ws.pid for ws in opened} != pids:
            if len(opened) == limit:
                msg = (
                    f"{server.name}: {limit} websockets reached only workers "
                    f"{sorted({ws.pid for ws in opened})} of {sorted(pids)}"
                )
                raise TimeoutError(msg)
            opened.append(Websocket(server))
    except BaseException:
        for ws in opened:
            ws.close()
        raise
    return opened


def post_message(server: Server, text: str) -> int:
    """Post ``text`` to whichever worker the kernel picks; return its pid."""
    response = httpx.post(
        server.url + "/messages", json={"text": text}, timeout=TIMEOUT
    )
    response.raise_for_status()
    return int(response.json()["pid"])


def until_every_websocket_hears(server: Server, websockets: list[Websocket]) -> None:
    """Post probes until one reaches every websocket: every worker listens."""
    deadline = time.monotonic() + START_TIMEOUT
    for number in range(10_000):
        text = f"probe {number}"
        post_message(server, text)
        try:
            for ws in websockets:
                ws.receive_until(text, timeout=0.5)
        except TimeoutError:
            if time.monotonic() > deadline:
                raise
        else:
            return
