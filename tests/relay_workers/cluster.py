"""``nox -s cluster``: both example apps as deployed, with a readable trace.

Starts a redis-server, the Flask example under gunicorn (gthread workers,
``--preload``) and the Quart example under hypercorn, three workers each, on
free loopback ports; posts events to whichever worker the kernel picks, and
prints, for each event, which worker sent it, which workers received it, in
what order, and how long each took. Then stops both servers with SIGTERM and
checks that every worker's relay stopped. Exits with status 1, naming the
worker, if any worker missed an event.

Run: ``nox -s cluster`` (or ``python -m tests.relay_workers.cluster`` with
the ``deploy`` dependency group installed and redis-server on PATH).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from .redis_server import RedisServer
from .servers import (
    Applied,
    Server,
    gunicorn,
    hypercorn,
    post_message,
    server_workers,
    serving,
    until_every_websocket_hears,
    websockets_on_every_worker,
)

WORKERS = 3
EVENTS = 3


class Missed(Exception):
    """A worker did not receive an event: the cluster is broken."""


def milliseconds(start: float, end: float) -> str:
    return f"{(end - start) * 1000:7.1f} ms"


def run_flask(redis: RedisServer, tmp: Path) -> None:
    command = server_workers(gunicorn("gthread", preload=True), WORKERS)
    with (
        Applied(redis.url) as applied,
        serving("gunicorn", command, WORKERS, redis.url, tmp) as server,
    ):
        pids = server.wait_started()
        print(
            f"Flask under gunicorn: {WORKERS} gthread workers {sorted(pids)}, "
            f"--preload (master {server.pid}); settings change -> cache dropped"
        )
        applied.until_all_listen(server, pids)
        for number in range(1, EVENTS + 1):
            posted = applied.post(server, {"event": number})
            try:
                reports = applied.wait_applied(server, posted["version"], pids)
            except TimeoutError as exc:
                got = {r["pid"] for r in applied.of_version(posted["version"])}
                msg = f"Flask: workers {sorted(pids - got)} missed event {number}"
                raise Missed(msg) from exc
            print(f"  event {number}: POST /settings served by worker {posted['pid']}")
            in_order = sorted(reports, key=lambda report: report["applied_at"])
            for order, report in enumerate(in_order, 1):
                who = "master" if report["pid"] == server.pid else "worker"
                role = " (sender)" if report["pid"] == posted["pid"] else ""
                print(
                    f"    {order}. {who} {report['pid']:<7} dropped its cache after"
                    f" {milliseconds(report['sent_at'], report['applied_at'])}{role}"
                )
        stop(server, pids)


def run_quart(redis: RedisServer, tmp: Path) -> None:
    command = server_workers(hypercorn(), WORKERS)
    with serving("hypercorn", command, WORKERS, redis.url, tmp, spawned=True) as server:
        pids = server.wait_started()
        websockets = websockets_on_every_worker(server, pids)
        print(
            f"Quart under hypercorn: {WORKERS} workers {sorted(pids)}, "
            f"{len(websockets)} websockets open on them; message -> every websocket"
        )
        try:
            until_every_websocket_hears(server, websockets)
            # One websocket per worker in the trace; every one is checked.
            shown = {ws.pid: ws for ws in websockets}
            for number in range(1, EVENTS + 1):
                text = f"message {number}"
                sender = post_message(server, text)
                heard = []
                for ws in websockets:
                    try:
                        message = ws.receive_until(text)
                    except TimeoutError as exc:
                        msg = f"Quart: a websocket on worker {ws.pid} missed {text!r}"
                        raise Missed(msg) from exc
                    if shown[ws.pid] is ws:
                        heard.append(message)
                print(f"  {text}: POST /messages served by worker {sender}")
                heard.sort(key=lambda message: message["received_at"])
                for order, message in enumerate(heard, 1):
                    pid = message["worker_pid"]
                    sockets = sum(ws.pid == pid for ws in websockets)
                    role = " (sender)" if pid == sender else ""
                    print(
                        f"    {order}. worker {pid:<7} received it after "
                        f"{milliseconds(message['sent_at'], message['received_at'])}"
                        f" and wrote it to its {sockets} websocket(s){role}"
                    )
        finally:
            for ws in websockets:
                ws.close()
        stop(server, pids)


def stop(server: Server, pids: set[int]) -> None:
    """SIGTERM the server; check that each worker's relay stopped, and say so."""
    started = time.monotonic()
    status = server.terminate()
    log = server.log()
    stopped = {pid for pid in pids if f"relay listener stopped in pid {pid}" in log}
    if status != 0 or stopped != pids or "Traceback" in log:
        msg = (
            f"{server.name} did not stop cleanly (exit status {status}; relays "
            f"stopped in {sorted(stopped)} of {sorted(pids)}):\n{log}"
        )
        raise Missed(msg)
    print(
        f"  SIGTERM: {server.name} exited 0 in {time.monotonic() - started:.1f} s; "
        f"every worker's relay stopped listening\n"
    )


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp, RedisServer() as redis:
        print(f"redis-server on 127.0.0.1:{redis.port}\n")
        try:
            run_flask(redis, Path(tmp))
            run_quart(redis, Path(tmp))
        except (Missed, TimeoutError) as exc:
            print(f"FAILED: {exc}", file=sys.stderr)
            return 1
    print("OK: every event reached every worker of both apps.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
