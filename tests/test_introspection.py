"""anysignal.introspection: receivers listed in call order, with their sources."""

from __future__ import annotations

import functools
import gc
import threading
import typing as t
import weakref
from pathlib import Path

import pytest

from anysignal import ANY, Namespace, Signal
from anysignal.introspection import (
    ALL_SENDERS,
    Connection,
    _describe_receiver,
    _describe_sender,
    describe,
    describe_namespace,
    namespaces,
)

from . import introspected
from .helpers import Recorder, run_threads
from .introspected import (
    Auditor,
    CallableReceiver,
    count,
    notify,
    with_table,
    wrapped,
    write_row,
)

SOURCE = Path(introspected.__file__).read_text().splitlines()


def line_of(text: str) -> int:
    """The number of the line of ``introspected.py`` that starts with ``text``."""
    [number] = [i for i, line in enumerate(SOURCE, 1) if line.startswith(text)]
    return number


def names(sig: Signal, sender: object = None) -> list[str]:
    listing = describe(sig) if sender is None else describe(sig, sender)
    return [receiver.name.rpartition(".")[2] for receiver in listing.receivers]


@pytest.fixture
def rec() -> Recorder:
    return Recorder()


def test_a_listing_for_a_sender_is_the_order_its_send_calls(rec: Recorder) -> None:
    sig = Signal()
    a, b, c, d, e = (rec.sync(name) for name in "abcde")
    sig.connect(a)
    sig.connect(b, sender="app", priority=-1)
    sig.connect(c, sender="other", priority=10)
    sig.connect(d, priority=5)
    sig.connect(e, sender="app")

    sig.send("app")

    assert rec.calls == ["d", "a", "e", "b"]
    assert names(sig, "app") == ["d", "a", "e", "b"]


def test_a_listing_for_any_has_only_the_receivers_connected_for_any(
    rec: Recorder,
) -> None:
    sig = Signal()
    a, b, c = rec.sync("a"), rec.sync("b"), rec.sync("c")
    sig.connect(a)
    sig.connect(b, sender="app", priority=10)
    sig.connect(c, priority=1)
    assert names(sig, ANY) == ["c", "a"]
    assert names(sig, ANY) == [r.__name__ for r in sig.receivers_for(ANY)]


def test_without_a_sender_every_receiver_is_listed_once_at_its_best_place(
    rec: Recorder,
) -> None:
    sig = Signal()
    a, b, c = rec.sync("a"), rec.sync("b"), rec.sync("c")
    sig.connect(a)
    sig.connect(b, sender="app")
    sig.connect(c, sender="other", priority=10)
    sig.connect(a, sender="app", priority=20)  # a's best place: priority 20
    assert names(sig) == ["a", "c", "b"]
    assert describe(sig).receivers[0].priority == 20


def test_a_receiver_connected_for_any_and_the_sender_is_listed_once(
    rec: Recorder,
) -> None:
    sig = Signal()
    a, b = rec.sync("a"), rec.sync("b")
    sig.connect(a)
    sig.connect(b)
    sig.connect(a, sender="app")
    assert names(sig, "app") == ["a", "b"]


def test_each_receiver_is_described_with_kind_holding_priority_and_senders() -> None:
    sig = Signal()
    sig.connect(write_row)
    sig.connect(notify, sender="app", priority=3)
    sig.connect(notify, sender=7)
    sig.connect(count, weak=False, priority=-1)

    [note, row, counting] = describe(sig).receivers

    assert (row.name, row.kind, row.weak, row.priority) == (
        "tests.introspected.write_row",
        "sync",
        True,
        0,
    )
    assert (note.name, note.kind, note.priority) == (
        "tests.introspected.notify",
        "async",
        3,
    )
    assert note.connections == (Connection("'app'", 3), Connection("7", 0))
    assert note.senders == ("'app'", "7")
    assert (counting.kind, counting.weak, counting.priority) == ("inline", False, -1)
    assert counting.senders == ("ANY",)


class App:
    def __repr__(self) -> str:
        return "<App 'notes'>"

    def handler(self) -> None:
        pass


def test_a_sender_held_by_identity_is_described_by_its_repr() -> None:
    sig = Signal()
    app = App()
    sig.connect(write_row, sender=app)
    sig.connect(write_row, sender=app.handler)
    [info] = describe(sig, app).receivers
    assert info.senders[0] == "<App 'notes'>"
    assert info.senders[1] == "<bound method App.handler of <App 'notes'>>"


def test_a_long_sender_repr_is_shortened() -> None:
    sig = Signal()
    sig.connect(write_row, sender="x" * 200)
    [info] = describe(sig).receivers
    assert len(info.senders[0]) == 80
    assert info.senders[0].endswith("...")


def test_a_sender_with_a_broken_repr_is_still_described() -> None:
    class Broken:
        def __repr__(self) -> str:
            raise ValueError("no repr")

    sig = Signal()
    sender = Broken()
    sig.connect(write_row, sender=sender)
    [info] = describe(sig).receivers
    assert info.senders[0].startswith("<test_a_sender_with_a_broken_repr")


@pytest.mark.parametrize(
    ("receiver", "name", "definition"),
    [
        (write_row, "tests.introspected.write_row", "def write_row("),
        (notify, "tests.introspected.notify", "async def notify("),
        (count, "tests.introspected.count", "@inline"),
        (Auditor().audit, "tests.introspected.Auditor.audit", "    def audit("),
        (
            CallableReceiver(),
            "tests.introspected.CallableReceiver()",
            "    def __call__(",
        ),
        (wrapped, "tests.introspected.wrapped", "@logged"),
        (
            functools.partial(with_table, table="notes"),
            "functools.partial(tests.introspected.with_table)",
            "def with_table(",
        ),
    ],
    ids=["function", "coroutine", "decorated", "method", "object", "wraps", "partial"],
)
def test_a_location_points_at_the_first_line_of_the_definition(
    receiver: object, name: str, definition: str
) -> None:
    sig = Signal()
    sig.connect(t.cast("t.Callable[..., None]", receiver), weak=False)
    [info] = describe(sig).receivers
    assert info.name == name
    assert info.file == introspected.__file__
    assert info.line == line_of(definition)


def test_a_built_in_receiver_has_a_name_but_no_location() -> None:
    sig = Signal()
    log: list[object] = []
    sig.connect(print)
    sig.connect(log.append, weak=False)
    [printing, appending] = describe(sig).receivers
    assert (printing.name, printing.file, printing.line) == (
        "builtins.print",
        None,
        None,
    )
    assert (appending.name, appending.file) == ("builtins.list.append", None)


def test_a_listing_never_keeps_a_weakly_held_receiver_alive(rec: Recorder) -> None:
    sig = Signal()
    receiver = rec.sync("short-lived")
    alive = weakref.ref(receiver)
    sig.connect(receiver)

    listing = describe(sig)
    del receiver
    gc.collect()

    assert alive() is None
    assert [r.name for r in listing.receivers] == ["tests.helpers.short-lived"]
    assert describe(sig).receivers == ()


def test_a_listing_never_keeps_a_weakly_held_sender_alive() -> None:
    class Sender:
        pass

    sig = Signal()
    sender = Sender()
    alive = weakref.ref(sender)
    sig.connect(write_row, sender=sender)

    listings = [describe(sig), describe(sig, sender)]
    del sender
    gc.collect()

    assert alive() is None
    assert all(len(listing.receivers) == 1 for listing in listings)
    assert describe(sig).receivers == ()


def test_a_listing_made_while_threads_change_connections_is_one_moment(
    rec: Recorder,
) -> None:
    # One thread connects r0..r9 in order, then disconnects them in order: at
    # any one moment the connected receivers are a run r_i..r_j, in order.
    sig = Signal()
    receivers = [rec.sync(f"r{i}") for i in range(10)]
    done = threading.Event()
    seen: list[list[int]] = []

    def change() -> None:
        try:
            for _ in range(200):
                for receiver in receivers:
                    sig.connect(receiver)
                for receiver in receivers:
                    sig.disconnect(receiver)
        finally:
            done.set()

    def look() -> None:
        while not done.is_set():
            seen.append([int(name[1:]) for name in names(sig)])

    assert run_threads([change, look], timeout=30) == []
    assert seen
    for listing in seen:
        start = listing[0] if listing else 0
        assert listing == list(range(start, start + len(listing)))


def test_a_muted_signal_says_so() -> None:
    sig = Signal()
    with sig.muted():
        assert describe(sig).muted
    assert not describe(sig).muted


def test_a_listing_names_the_signal_and_the_sender() -> None:
    listing = describe(introspected.saved, "app")
    assert (listing.name, listing.doc, listing.sender) == (
        "saved",
        "A record was saved.",
        "'app'",
    )
    assert describe(introspected.deleted).sender is None
    assert describe(Signal()).name.startswith("<Signal at 0x")


def test_a_namespace_lists_every_signal_in_the_order_they_were_made() -> None:
    ns = Namespace()
    first, second = ns.signal("first"), ns.signal("second")
    first.connect(write_row)
    listings = describe_namespace(ns, "app")
    assert [listing.name for listing in listings] == ["first", "second"]
    assert [len(listing.receivers) for listing in listings] == [1, 0]
    assert second is ns["second"]


def positions(*wanted: Namespace) -> list[int]:
    """Where each of ``wanted`` is in namespaces(), by identity (not ==)."""
    found = [id(ns) for ns in namespaces()]
    return [found.index(id(ns)) for ns in wanted]


def test_namespaces_lists_every_namespace_oldest_first() -> None:
    older, newer = Namespace(), Namespace()
    imported, first, second = positions(introspected.signals, older, newer)
    assert imported < first < second


def test_namespaces_never_keeps_a_namespace_alive() -> None:
    ns = Namespace()
    alive = weakref.ref(ns)
    assert positions(ns)
    del ns
    gc.collect()
    assert alive() is None


def test_all_senders_shows_its_name() -> None:
    assert repr(ALL_SENDERS) == "ALL_SENDERS"


def test_a_sender_that_cannot_be_weakly_referenced_is_described_by_its_repr() -> None:
    sig = Signal()
    sender = [1, 2]
    sig.connect(write_row, sender=sender)
    [info] = describe(sig).receivers
    assert info.senders == ("[1, 2]",)


def test_a_receiver_that_died_while_another_thread_held_the_lock_is_not_listed(
    rec: Recorder,
) -> None:
    sig = Signal()
    receiver = rec.sync("short-lived")
    sig.connect(receiver)
    sig.connect(write_row)
    held, died = threading.Event(), threading.Event()

    def hold_the_lock() -> None:
        with sig._lock:
            held.set()
            died.wait(10)

    thread = threading.Thread(target=hold_the_lock)
    thread.start()
    held.wait(10)
    del receiver
    gc.collect()  # its clean-up waits for the lock: it is queued
    assert sig._table.dead
    died.set()
    thread.join(10)

    assert names(sig) == ["write_row"]
    assert not sig._table.dead


def test_a_receiver_or_sender_that_dies_during_a_listing_is_left_out(
    rec: Recorder,
) -> None:
    # Between the copy under the lock and the description after it.
    class Sender:
        pass

    sig = Signal()
    receiver, sender = rec.sync("short-lived"), Sender()
    sig.connect(receiver, sender=sender)
    [record] = sig.receivers.values()
    holders = dict(sig._table.held)
    [sender_key] = holders
    del sender
    gc.collect()
    assert _describe_sender(sender_key, holders[sender_key]) is None
    del receiver
    gc.collect()
    assert _describe_receiver(record, 0, (), {}) is None


def test_the_cli_names_a_namespace_no_module_holds_by_its_address() -> None:
    pytest.importorskip("click")
    from anysignal.cli import _labels

    ns = Namespace()
    assert _labels([ns]) == {id(ns): f"<Namespace at {id(ns):#x}>"}
    assert _labels([introspected.signals]) == {
        id(introspected.signals): "tests.introspected.signals"
    }


def test_a_listing_from_a_finalizer_during_a_change_is_refused() -> None:
    sig = Signal()
    with sig._lock, pytest.raises(RuntimeError, match="cannot describe"):
        describe(sig)
