"""An audit-log extension: one module, for Flask and Quart apps alike.

It imports neither framework. The app calls :func:`init_app`, then sends
:data:`record_saved` through ``anysignal.flask.send`` or ``anysignal.quart.send``;
the receivers below run the same way under both.
"""

from __future__ import annotations

import logging
import sqlite3
import typing as t
from contextlib import closing
from dataclasses import dataclass, field

import anyio

from anysignal import Namespace
from anysignal.framework import inline, request_finished

if t.TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    Subscriber: t.TypeAlias = Callable[[str, int], Awaitable[None]]

log = logging.getLogger("audit")

signals = Namespace()
record_saved = signals.signal(
    "record-saved", "A record was saved. Keyword arguments: ``table``, ``record_id``."
)


class App(t.Protocol):
    """What the extension needs of an app; Flask and Quart apps both have it."""

    extensions: dict[str, t.Any]


@dataclass
class AuditLog:
    """One app's audit log: where rows go, and who hears about them."""

    database: str
    subscribers: list[Subscriber] = field(default_factory=list)
    saves: int = 0


def init_app(app: App, database: str) -> AuditLog:
    """Keep an audit log for ``app`` in the SQLite file ``database``."""
    with closing(sqlite3.connect(database)) as db, db:
        db.execute("CREATE TABLE IF NOT EXISTS audit (tbl TEXT, record_id INTEGER)")
    audit = app.extensions["audit"] = AuditLog(database)
    return audit


@record_saved.connect
def write_row(app: App, *, table: str, record_id: int, **kwargs: object) -> int:
    # sqlite3 blocks: under Quart this runs in a worker thread, off the loop.
    with closing(sqlite3.connect(app.extensions["audit"].database)) as db, db:
        row = db.execute("INSERT INTO audit VALUES (?, ?)", (table, record_id))
    log.info("wrote audit row %d for %s/%d", row.lastrowid, table, record_id)
    return t.cast("int", row.lastrowid)


@record_saved.connect
async def notify_subscribers(
    app: App, *, table: str, record_id: int, **kwargs: object
) -> int:
    subscribers = app.extensions["audit"].subscribers
    for subscriber in subscribers:
        await subscriber(table, record_id)
    log.info("notified %d subscriber(s)", len(subscribers))
    return len(subscribers)


@record_saved.connect
@inline  # only counts in memory: not worth a thread under Quart
def count_save(app: App, **kwargs: object) -> int:
    audit: AuditLog = app.extensions["audit"]
    audit.saves += 1
    log.info("%d save(s) so far", audit.saves)
    return audit.saves


@request_finished.connect
def log_request(app: App, *, response: t.Any, **kwargs: object) -> None:
    # A neutral built-in signal: the app relays its framework's own into it.
    if "audit" in app.extensions:
        log.info("request finished: %s", response.status)


async def print_subscriber(table: str, record_id: int) -> None:
    """A subscriber, as an app would add one: a coroutine function."""
    await anyio.sleep(0)  # stands for sending a message somewhere
    log.info("subscriber heard: %s/%d saved", table, record_id)
