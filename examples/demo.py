"""Drive one audit-log extension through a Flask app and a Quart app.

Prints which receiver ran, in which order, sync or async, in which thread, then
checks the trace; exits with status 1 if anything is off. Run: ``nox -s demo``.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import sqlite3
import sys
import tempfile
import threading
import typing as t
from contextlib import closing
from pathlib import Path

import audit
import flask_app
import quart_app
from anysignal.framework import is_inline

# The order the extension's log lines must come in: the three record_saved
# receivers in connection order (the subscriber is awaited inside the second),
# then the relayed request_finished.
EXPECTED = [
    "write_row",
    "print_subscriber",
    "notify_subscribers",
    "count_save",
    "log_request",
]
RECEIVERS = {"write_row", "notify_subscribers", "count_save"}
"""The receivers of record_saved, whose results send() returns."""


class Trace(logging.Handler):
    """Keeps the extension's log records: logging notes the function and thread."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def kind(name: str) -> str:
    function = getattr(audit, name)
    if inspect.iscoroutinefunction(function):
        return "async"
    return "sync, inline" if is_inline(function) else "sync"


def check(
    framework: str, returned: list[str], records: list[logging.LogRecord], database: str
) -> list[str]:
    """Return what is wrong with one framework's run."""
    problems = []
    if returned != (receivers := [n for n in EXPECTED if n in RECEIVERS]):
        problems.append(f"send() returned results of {returned}, expected {receivers}")
    if (names := [record.funcName for record in records]) != EXPECTED:
        problems.append(f"receivers ran as {names}, expected {EXPECTED}")
    main = threading.main_thread().ident
    for record in records:
        on_main, what = record.thread == main, kind(record.funcName)
        if framework == "Flask" and what != "async" and not on_main:
            problems.append(f"{record.funcName} left the request thread")
        # Quart: blocking sync receivers off the loop, the rest on it.
        if framework == "Quart" and on_main == (what == "sync"):
            problems.append(f"{record.funcName} ran in {record.threadName}")
    with closing(sqlite3.connect(database)) as db:
        [(rows,)] = db.execute("SELECT count(*) FROM audit")
    if rows != 1:
        problems.append(f"{rows} audit rows written, expected 1")
    return problems


def show(framework: str, returned: list[str], trace: Trace) -> None:
    print(f"{framework}: POST /notes/42; send() returned {', '.join(returned)}")
    for number, record in enumerate(trace.records, 1):
        print(
            f"  {number}. {record.funcName:<19} {kind(record.funcName):<13}"
            f" {record.threadName:<24} {record.getMessage()}"
        )


def run_flask(database: str) -> list[str]:
    response = flask_app.create_app(database).test_client().post("/notes/42")
    return t.cast("dict[str, list[str]]", response.json)["receivers"]


async def run_quart(database: str) -> list[str]:
    response = await quart_app.create_app(database).test_client().post("/notes/42")
    return t.cast("dict[str, list[str]]", await response.get_json())["receivers"]


def main() -> int:
    logger = logging.getLogger("audit")
    logger.setLevel(logging.INFO)
    problems = []
    with tempfile.TemporaryDirectory() as tmp:
        for framework in ("Flask", "Quart"):
            trace = Trace()
            logger.addHandler(trace)
            database = str(Path(tmp) / f"{framework}.sqlite3")
            if framework == "Flask":
                returned = run_flask(database)
            else:
                returned = asyncio.run(run_quart(database))
            logger.removeHandler(trace)
            show(framework, returned, trace)
            found = check(framework, returned, trace.records, database)
            problems += [f"{framework}: {problem}" for problem in found]
            print()
    for problem in problems:
        print("FAILED", problem, file=sys.stderr)
    if not problems:
        print("OK: the same extension ran in Flask and in Quart, in the same order.")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
