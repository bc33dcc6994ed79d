"""anysignal.relay within one process: several relays, one real redis-server."""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import os
import signal
import threading
import time
import typing as t
import uuid
from collections.abc import Callable, Iterator

import anyio
import pytest

from anysignal import Namespace, Signal
from anysignal.relay import (
    JSONCodec,
    MalformedMessage,
    Origin,
    PayloadError,
    Relay,
    Streams,
    TaggedCodec,
)
from tests.relay_workers.fixtures import (
    PREFIX,
    SECRET,
    TIMEOUT,
    Link,
    MakeRelay,
    envelope,
    listening_in_thread,
    needs_redis,
    recorder,
    signed,
    wait_until,
)
from tests.relay_workers.redis_server import RedisServer

# After the imports: only the tests need redis-py, not the modules they import.
redis = pytest.importorskip("redis")

pytestmark = needs_redis


# -- delivery -------------------------------------------------------------------


def test_remote_receivers_get_the_origin_and_the_kwargs(make_relay: MakeRelay) -> None:
    here, there = Namespace(), Namespace()
    local, remote = recorder(here.signal("saved")), recorder(there.signal("saved"))
    sender = make_relay(here.signal("saved"))
    listening_in_thread(make_relay(there.signal("saved")))

    results = here.signal("saved").send("me", id=7, tags=["a", "é"], extra=None)

    wait_until(lambda: len(remote) == 1, "the remote event")
    assert remote == [(sender.origin, {"id": 7, "tags": ["a", "é"], "extra": None})]
    assert local == [("me", {"id": 7, "tags": ["a", "é"], "extra": None})]
    # The relay's receiver runs first, and returns None.
    assert [result for _, result in results] == [None, None]
    assert isinstance(remote[0][0], Origin)
    assert remote[0][0] == Origin(
        sender.origin.pid, sender.origin.host, sender.origin.id
    )


def test_no_process_gets_its_own_events_and_nothing_is_published_twice(
    make_relay: MakeRelay,
) -> None:
    a, b, c = Namespace(), Namespace(), Namespace()
    got = {
        name: recorder(ns.signal("x"))
        for name, ns in zip("abc", (a, b, c), strict=True)
    }
    for ns in (a, b, c):
        listening_in_thread(make_relay(ns.signal("x")))

    a.signal("x").send(None, n=1)
    wait_until(lambda: len(got["b"]) == len(got["c"]) == 1, "b and c")
    # b's and c's re-sends would reach a, and each other, if they were published.
    time.sleep(0.2)
    assert [len(got[name]) for name in "abc"] == [1, 1, 1]


def test_a_relay_closed_and_used_again_is_not_taken_for_a_replay(
    make_relay: MakeRelay,
) -> None:
    link = Link(make_relay)
    link.send()
    assert link.sender.flush(TIMEOUT)
    link.sender.close()
    link.sender.add(link.here.signal("x"))
    link.send()
    wait_until(lambda: link.numbers() == [0, 1], "both events")


def test_stop_publishing_publishes_the_queue_stops_the_thread_and_keeps_relaying(
    make_relay: MakeRelay, caplog: pytest.LogCaptureFixture
) -> None:
    def publishers() -> int:
        return sum(t.name == "anysignal-relay-publisher" for t in threading.enumerate())

    link = Link(make_relay)
    for _ in range(100):
        link.send()
    running = publishers()

    with caplog.at_level("INFO", logger="anysignal.relay"):
        link.sender.stop_publishing(TIMEOUT)

    assert publishers() == running - 1
    wait_until(lambda: link.numbers() == list(range(100)), "every queued event")
    assert "relay publisher stopped in pid" in caplog.text
    assert "0 event(s) dropped in all" in caplog.text
    link.send()  # a new publisher, numbering on: not taken for a replay
    wait_until(lambda: link.numbers() == list(range(101)), "the event after")


def test_per_publisher_order_is_kept(make_relay: MakeRelay) -> None:
    here, there = Namespace(), Namespace()
    remote = recorder(there.signal("n"))
    make_relay(here.signal("n"))
    listening_in_thread(make_relay(there.signal("n")))
    for number in range(2000):
        here.signal("n").send(None, number=number)
    wait_until(lambda: len(remote) == 2000, "2000 events")
    assert [kwargs["number"] for _, kwargs in remote] == list(range(2000))


@pytest.mark.anyio
async def test_listening_in_an_async_block(make_relay: MakeRelay) -> None:
    here, there = Namespace(), Namespace()
    order: list[str] = []

    @there.signal("x").connect
    def sync_receiver(sender: Origin, *, n: int) -> None:
        order.append(f"sync {n}")

    @there.signal("x").connect
    async def async_receiver(sender: Origin, *, n: int) -> None:
        await anyio.sleep(0)
        order.append(f"async {n}")

    make_relay(here.signal("x"))
    relay = make_relay(there.signal("x"))
    async with relay.listening():
        assert await anyio.to_thread.run_sync(relay.wait_listening, TIMEOUT)
        await here.signal("x").send_async(None, n=1)
        here.signal("x").send(None, n=2)
        with anyio.fail_after(TIMEOUT):
            while len(order) < 4:
                await anyio.sleep(0.005)
    assert order == ["sync 1", "async 1", "sync 2", "async 2"]
    assert not relay.wait_listening(0)


def test_a_failing_receiver_is_logged_and_the_others_still_run(
    make_relay: MakeRelay, caplog: pytest.LogCaptureFixture
) -> None:
    here, there = Namespace(), Namespace()

    @there.signal("x").connect
    def fail(sender: Origin, **kwargs: t.Any) -> None:
        raise RuntimeError("receiver failed")

    @there.signal("x").connect
    async def cannot_run_in_a_thread(sender: Origin, **kwargs: t.Any) -> None:
        raise AssertionError("no async_wrapper: never called")

    make_relay(here.signal("x"), here.signal("y"))
    listening_in_thread(make_relay(there.signal("x"), there.signal("y")))
    remote_y = recorder(there.signal("y"))
    here.signal("x").send(None)
    here.signal("y").send(None)
    wait_until(lambda: len(remote_y) == 1, "the event after the failures")
    assert "could not deliver <NamedSignal 'x'>" in caplog.text


def test_async_wrapper_runs_coroutine_receivers_in_the_thread(
    make_relay: MakeRelay,
) -> None:
    here, there = Namespace(), Namespace()
    got: list[int] = []

    @there.signal("x").connect
    async def receiver(sender: Origin, *, n: int) -> None:
        got.append(n)

    make_relay(here.signal("x"))
    relay = make_relay(there.signal("x"))
    relay.start_in_thread(
        async_wrapper=lambda f: lambda *a, **k: anyio.run(lambda: f(*a, **k))
    )
    assert relay.wait_listening(TIMEOUT)
    here.signal("x").send(None, n=3)
    wait_until(lambda: got == [3], "the coroutine receiver")


def test_removed_and_unknown_signals_are_not_relayed(
    make_relay: MakeRelay, caplog: pytest.LogCaptureFixture
) -> None:
    here, there = Namespace(), Namespace()
    remote = recorder(there.signal("kept"))
    sender = make_relay(
        here.signal("kept"), here.signal("gone"), here.signal("only-here")
    )
    receiver = listening_in_thread(
        make_relay(there.signal("kept"), there.signal("gone"), log_interval=1e-9)
    )
    receiver.remove(there.signal("gone"), there.signal("never-added"))
    sender.remove(here.signal("kept"))
    sender.add(here.signal("kept"), here.signal("kept"))  # twice: still once

    for _ in range(2):
        here.signal("gone").send(None)
        here.signal("only-here").send(None)
    here.signal("kept").send(None)
    wait_until(lambda: len(remote) == 1, "the kept signal")
    assert receiver.signals == (there.signal("kept"),)
    unknown = [r for r in caplog.records if "no such signal" in r.message]
    assert sorted({str(r.args[0]) for r in unknown}) == ["gone", "only-here"]  # type: ignore[index]


# -- payloads -------------------------------------------------------------------


def test_an_unencodable_argument_raises_at_the_send_site_naming_it(
    make_relay: MakeRelay,
) -> None:
    ns = Namespace()
    local = recorder(ns.signal("x"))
    make_relay(ns.signal("x"))
    with pytest.raises(
        PayloadError, match=r"keyword argument 'when' cannot be encoded"
    ):
        ns.signal("x").send(None, ok=1, when=datetime.date(2024, 1, 2))
    with pytest.raises(ValueError, match="keyword argument 'ratio'"):
        ns.signal("x").send(None, ratio=float("nan"))
    with pytest.raises(TypeError, match="keyword argument 'keys'"):
        ns.signal("x").send(None, keys={(1, 2): "tuple keys"})
    assert local == []  # raised before any local receiver ran


def test_a_too_large_event_raises_at_the_send_site(make_relay: MakeRelay) -> None:
    ns = Namespace()
    make_relay(ns.signal("x"), max_message_bytes=300, secret=SECRET)
    ns.signal("x").send(None, text="small")
    with pytest.raises(
        PayloadError,
        match=r"of up to 4\d\d bytes: the relay's max_message_bytes is 300",
    ):
        ns.signal("x").send(None, text="x" * 250)


@dataclasses.dataclass(frozen=True)
class Point:
    x: int
    y: int


@dataclasses.dataclass
class Order:
    at: datetime.datetime
    where: Point
    lines: list[decimal.Decimal]


def test_the_tagged_codec_carries_richer_types(make_relay: MakeRelay) -> None:
    here, there = Namespace(), Namespace()
    remote = recorder(there.signal("x"))
    make_relay(here.signal("x"), codec=TaggedCodec(Order, Point))
    listening_in_thread(make_relay(there.signal("x"), codec=TaggedCodec(Point, Order)))
    when = datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.UTC)
    kwargs: dict[str, t.Any] = {
        "order": Order(when, Point(1, 2), [decimal.Decimal("9.99")]),
        "day": datetime.date(2024, 1, 2),
        "time": datetime.time(23, 59),
        "id": uuid.UUID(int=1),
        "plain": {"__anysignal__": None, "n": 1},
    }
    here.signal("x").send(None, **kwargs)
    wait_until(lambda: len(remote) == 1, "the event")
    assert remote[0][1] == kwargs


def test_the_tagged_codec_refuses_what_it_does_not_know() -> None:
    @dataclasses.dataclass
    class Unregistered:
        a: int

    with pytest.raises(TypeError, match=r"dataclass .*Unregistered is not registered"):
        TaggedCodec(Point).encode(Unregistered(1))
    with pytest.raises(TypeError, match="a set is not a JSON type"):
        TaggedCodec().encode({1})
    with pytest.raises(
        TypeError, match=r"TaggedCodec\(\*dataclass_types\): <class 'int'>"
    ):
        TaggedCodec(int)
    with pytest.raises(ValueError, match="two classes are named 'Point'"):
        TaggedCodec(Point, dataclasses.make_dataclass("Point", ["x"]))
    with pytest.raises(MalformedMessage, match="bad tagged value"):
        TaggedCodec().decode({"__anysignal__": "dataclass", "type": "Point"})
    assert JSONCodec().decode({"a": 1}) == {"a": 1}


# -- what the listener drops ----------------------------------------------------


def test_malformed_messages_are_dropped_and_logged(
    make_relay: MakeRelay, raw_client: t.Any, caplog: pytest.LogCaptureFixture
) -> None:
    # Every drop logged (log_interval), to check each reason.
    listener = {"codec": TaggedCodec(), "max_message_bytes": 400, "log_interval": 1e-9}
    link = Link(make_relay, listener=listener)
    bad = {
        b"not json}": "not JSON",
        b"\xff\xfe}": "not JSON",
        b'{"a": [1, 2]}': "not an anysignal relay envelope",
        envelope(v=1): "envelope version 1, but this relay reads 2",
        envelope(seq="1"): "not an anysignal relay envelope",
        envelope(ts=None): "not an anysignal relay envelope",
        envelope(seq=True): "not an anysignal relay envelope",
        envelope(origin="a string"): "not an anysignal relay envelope",
        envelope(origin={"pid": 1}): "not an anysignal relay envelope",
        envelope(
            kwargs={"d": {"__anysignal__": "date", "value": "?"}}
        ): "bad tagged value",
        envelope(kwargs={"big": "x" * 400}): "exceeds max_message_bytes=400",
    }
    for message in bad:
        raw_client.publish(PREFIX + "x", signed(PREFIX + "x", message))
    # Channel and name disagree:
    raw_client.publish(PREFIX + "y", signed(PREFIX + "y", envelope("x", seq=2)))
    link.send()
    wait_until(lambda: link.numbers() == [0], "the good event")
    for reason in bad.values():
        assert reason in caplog.text
    assert "relay dropped an event of signal 'x' on channel 'test:y'" in caplog.text


def test_hostile_messages_are_dropped_and_the_listener_goes_on(
    make_relay: MakeRelay, raw_client: t.Any, caplog: pytest.LogCaptureFixture
) -> None:
    link = Link(make_relay, listener={"log_interval": 1e-9})
    channel = PREFIX + "x"
    raw_client.publish(channel, signed(channel, b"[" * 100_000 + b"}"))
    raw_client.publish(
        channel, signed(channel, envelope(kwargs={"_sync_wrapper": "x"}))
    )
    raw_client.publish(channel, signed(channel, envelope(seq=5)))
    raw_client.publish(channel, signed(channel, envelope(seq=5)))  # replayed
    link.send()
    wait_until(lambda: link.numbers() == [1, 0], "the raw event and the sent one")
    assert "too deeply nested" in caplog.text
    assert "not an anysignal relay envelope" in caplog.text
    assert "refused a replayed event #5 from raw" in caplog.text


def test_send_options_never_cross_processes(make_relay: MakeRelay) -> None:
    here = Namespace()
    make_relay(here.signal("x"))
    with pytest.raises(PayloadError, match="'_trace' starts with an underscore"):
        here.signal("x").send(None, _trace=1)


def test_with_a_secret_only_rightly_signed_messages_are_delivered(
    make_relay: MakeRelay, raw_client: t.Any, caplog: pytest.LogCaptureFixture
) -> None:
    here, forger, there = Namespace(), Namespace(), Namespace()
    remote = recorder(there.signal("x"))
    make_relay(here.signal("x"), secret=SECRET.encode())
    make_relay(forger.signal("x"), secret="another secret of sixteen bytes")
    listening_in_thread(make_relay(there.signal("x"), log_interval=1e-9))

    raw_client.publish(PREFIX + "x", envelope())
    raw_client.publish(PREFIX + "x", envelope(sig="0" * 64)[:-1] + b"}")
    forger.signal("x").send(None, n=0)
    here.signal("x").send(None, n=1)
    wait_until(lambda: len(remote) == 1, "the signed event")
    time.sleep(0.1)
    assert [kwargs for _, kwargs in remote] == [{"n": 1}]
    assert caplog.text.count("unsigned, but this relay requires a signature") == 1
    assert caplog.text.count("wrong signature") == 2


def test_each_envelope_of_a_pack_is_checked_on_its_own(
    make_relay: MakeRelay, raw_client: t.Any, caplog: pytest.LogCaptureFixture
) -> None:
    there = Namespace()
    remote = recorder(there.signal("x"))
    listening_in_thread(make_relay(there.signal("x"), secret=SECRET, log_interval=1e-9))
    channel = PREFIX + "x"
    good = [signed(channel, envelope(seq=seq, kwargs={"n": seq})) for seq in (1, 3)]
    forged = signed(channel, envelope(seq=2, kwargs={"n": 2}), secret="x" * 16)
    raw_client.publish(channel, b"\n".join((good[0], forged, good[1])))
    wait_until(lambda: len(remote) == 2, "the two rightly signed events")
    assert [kwargs for _, kwargs in remote] == [{"n": 1}, {"n": 3}]
    assert caplog.text.count("wrong signature") == 1


def test_a_burst_arrives_whole_and_in_order(make_relay: MakeRelay) -> None:
    here, there = Namespace(), Namespace()
    remote = recorder(there.signal("x"))
    listening_in_thread(make_relay(there.signal("x"), secret=SECRET))
    sender = make_relay(here.signal("x"), secret=SECRET)
    for n in range(2_000):  # more than one pipeline, packed
        here.signal("x").send(None, n=n)
    assert sender.flush(TIMEOUT)
    wait_until(lambda: len(remote) == 2_000, "the whole burst")
    assert [kwargs["n"] for _, kwargs in remote] == list(range(2_000))


# -- Redis going away -----------------------------------------------------------


def test_delivery_resumes_when_redis_comes_back(
    make_relay: MakeRelay, caplog: pytest.LogCaptureFixture
) -> None:
    here, there = Namespace(), Namespace()
    remote = recorder(there.signal("x"))
    with RedisServer() as server:
        sender = make_relay(here.signal("x"), url=server.url, max_pending=2, timeout=1)
        listening_in_thread(make_relay(there.signal("x"), url=server.url))
        here.signal("x").send(None, n=0)
        wait_until(lambda: len(remote) == 1, "the first event")

        server.kill()
        for n in range(1, 5):
            here.signal("x").send(None, n=n)  # never raises: dropped, and logged
        assert sender.flush(TIMEOUT)
        server.start()
        n = 5
        while remote[-1][1]["n"] < 5:
            here.signal("x").send(None, n=n)
            n += 1
            wait_until(lambda: sender.flush(0.05) and len(remote) > 0, "flush")
            assert n < 200, "delivery did not resume"
            time.sleep(0.02)
    assert "relay cannot publish to" in caplog.text
    assert "relay listening again on" in caplog.text
    assert "relay missed" in caplog.text or "relay dropped" in caplog.text


def test_a_listener_outlives_errors_that_are_not_redis_errors(
    make_relay: MakeRelay, caplog: pytest.LogCaptureFixture
) -> None:
    # A label longer than 63 characters cannot be encoded as IDNA: the
    # connection fails with a UnicodeError, which redis-py lets through.
    relay = make_relay(Namespace().signal("x"), url=f"redis://{'a' * 64}.test:1/0")

    with caplog.at_level("WARNING", logger="anysignal.relay"):
        relay.start_in_thread()
        wait_until(lambda: caplog.text.count("relay lost") >= 2, "two attempts")

    logged = [record.exc_info[1] for record in caplog.records if record.exc_info]
    # UnicodeError before Python 3.13, its subclass UnicodeEncodeError since.
    assert logged
    assert all(isinstance(exc, UnicodeError) for exc in logged)
    assert not relay.wait_listening(0)
    relay.stop(TIMEOUT)
    assert "still running" not in caplog.text


# -- frameworks -----------------------------------------------------------------


@pytest.mark.parametrize("transport", [None, Streams()], ids=["pubsub", "streams"])
def test_flask_init_relay_delivers_in_an_app_context(
    make_relay: MakeRelay, transport: Streams | None
) -> None:
    flask = pytest.importorskip("flask")
    import anysignal.flask

    here, there = Namespace(), Namespace()
    got: list[tuple[str, int]] = []

    @there.signal("x").connect
    def sync_receiver(sender: Origin, *, n: int) -> None:
        got.append((flask.current_app.name, n))

    @there.signal("x").connect
    async def async_receiver(sender: Origin, *, n: int) -> None:
        got.append((flask.current_app.name, -n))

    app = flask.Flask("remote-app")
    relay = make_relay(there.signal("x"), transport=transport)
    anysignal.flask.init_relay(app, relay)
    assert app.extensions["anysignal.relay"] is relay
    assert relay.wait_listening(TIMEOUT)
    make_relay(here.signal("x"), transport=transport)
    here.signal("x").send(None, n=1)
    wait_until(lambda: len(got) == 2, "both receivers")
    assert got == [("remote-app", 1), ("remote-app", -1)]


async def send_through_quart(
    make_relay: MakeRelay,
    here: Namespace,
    there: Namespace,
    done: Callable[[], bool],
    transport: Streams | None = None,
    **kwargs: t.Any,
) -> Relay:
    """Send ``x`` from ``here`` to a Quart app relaying ``there``; wait for ``done``."""
    quart = pytest.importorskip("quart")
    import anysignal.quart

    app = quart.Quart("remote-app")
    relay = make_relay(there.signal("x"), transport=transport)
    anysignal.quart.init_relay(app, relay)
    make_relay(here.signal("x"), transport=transport)
    async with app.test_app():
        assert await anyio.to_thread.run_sync(relay.wait_listening, TIMEOUT)
        await here.signal("x").send_async(None, **kwargs)
        with anyio.fail_after(TIMEOUT):
            while not done():
                await anyio.sleep(0.005)
    return relay


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # Quart runs on asyncio only
@pytest.mark.parametrize("transport", [None, Streams()], ids=["pubsub", "streams"])
async def test_quart_init_relay_listens_while_the_app_serves(
    make_relay: MakeRelay, transport: Streams | None
) -> None:
    quart = pytest.importorskip("quart")
    here, there = Namespace(), Namespace()
    got: list[tuple[str, int]] = []

    @there.signal("x").connect
    def sync_receiver(sender: Origin, *, n: int) -> None:
        got.append((quart.current_app.name, n))

    @there.signal("x").connect
    async def async_receiver(sender: Origin, *, n: int) -> None:
        got.append((quart.current_app.name, -n))

    relay = await send_through_quart(
        make_relay, here, there, lambda: len(got) == 2, transport, n=1
    )
    assert got == [("remote-app", 1), ("remote-app", -1)]
    assert not relay.wait_listening(0)


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # Quart runs on asyncio only
async def test_quart_init_relay_holds_a_sigterm_back_until_the_relay_stopped(
    make_relay: MakeRelay, monkeypatch: pytest.MonkeyPatch
) -> None:
    quart = pytest.importorskip("quart")
    import anysignal.quart

    app = quart.Quart("stopping-app")
    relay = make_relay(Namespace().signal("x"))
    anysignal.quart.init_relay(app, relay)
    happened: list[str] = []
    stop_publishing = relay.stop_publishing

    def stop_as_sigterm_comes() -> None:
        # As hypercorn's main process does once another worker has stopped.
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.1)  # time for the main thread to run a handler
        stop_publishing()
        happened.append("relay stopped")

    monkeypatch.setattr(relay, "stop_publishing", stop_as_sigterm_comes)
    previous = signal.signal(signal.SIGTERM, lambda *_: happened.append("SIGTERM"))
    try:
        async with app.test_app():
            assert await anyio.to_thread.run_sync(relay.wait_listening, TIMEOUT)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert happened == ["relay stopped", "SIGTERM"]


@pytest.fixture
def sigterms() -> Iterator[list[str]]:
    """SIGTERM handled by appending to the list, for the test's length."""
    pytest.importorskip("quart")
    got: list[str] = []
    previous = signal.signal(signal.SIGTERM, lambda *_: got.append("SIGTERM"))
    yield got
    signal.signal(signal.SIGTERM, previous)


def sigterm_and_wait(seconds: float = 0.05) -> None:
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(seconds)  # handlers run in this, the main thread, meanwhile


def test_two_holds_released_out_of_order_put_the_handler_back(
    sigterms: list[str],
) -> None:
    from anysignal.quart import _SIGTERM_HOLD

    handler = signal.getsignal(signal.SIGTERM)
    assert _SIGTERM_HOLD.acquire()  # one app stops
    assert _SIGTERM_HOLD.acquire()  # another, meanwhile
    sigterm_and_wait()
    _SIGTERM_HOLD.release()  # the first is done
    assert sigterms == []
    _SIGTERM_HOLD.release()
    assert sigterms == ["SIGTERM"]
    assert signal.getsignal(signal.SIGTERM) == handler


def test_a_second_sigterm_while_held_takes_effect_at_once(
    sigterms: list[str],
) -> None:
    from anysignal.quart import _SIGTERM_HOLD

    assert _SIGTERM_HOLD.acquire()
    sigterm_and_wait()
    sigterm_and_wait()
    assert sigterms == ["SIGTERM"]
    _SIGTERM_HOLD.release()
    assert sigterms == ["SIGTERM"]


def test_a_held_sigterm_takes_effect_after_the_hold_limit(
    sigterms: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import anysignal.quart

    monkeypatch.setattr(anysignal.quart, "_HOLD_LIMIT", 0.1)
    assert anysignal.quart._SIGTERM_HOLD.acquire()  # a stop that hangs
    sigterm_and_wait(0.5)
    assert sigterms == ["SIGTERM"]
    anysignal.quart._SIGTERM_HOLD.release()
    assert sigterms == ["SIGTERM"]


class AsyncCallable:
    """A receiver object whose ``__call__`` is a coroutine function."""

    def __init__(self, got: list[str]) -> None:
        self.got = got

    async def __call__(self, sender: Origin, **kwargs: object) -> None:
        self.got.append("awaited")


def test_flask_init_relay_awaits_objects_with_an_async_call(
    make_relay: MakeRelay,
) -> None:
    flask = pytest.importorskip("flask")
    import anysignal.flask

    here, there = Namespace(), Namespace()
    got: list[str] = []
    receiver = AsyncCallable(got)
    there.signal("x").connect(receiver)
    app = flask.Flask("remote-app")
    relay = make_relay(there.signal("x"))
    anysignal.flask.init_relay(app, relay)
    assert relay.wait_listening(TIMEOUT)
    make_relay(here.signal("x"))
    here.signal("x").send(None)
    wait_until(lambda: got == ["awaited"], "the async __call__ awaited")


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])  # Quart runs on asyncio only
async def test_quart_init_relay_runs_inline_receivers_on_the_event_loop(
    make_relay: MakeRelay,
) -> None:
    from anysignal.framework import inline

    here, there = Namespace(), Namespace()
    threads: list[int] = []

    @there.signal("x").connect
    @inline
    def on_the_loop(sender: Origin) -> None:
        threads.append(threading.get_ident())

    await send_through_quart(make_relay, here, there, lambda: bool(threads))
    assert threads == [threading.get_ident()]


# -- wrong use ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"prefix": b"x:"}, TypeError, r"Relay\(prefix=...\) must be a str"),
        ({"secret": "short"}, ValueError, r"Relay\(secret=...\) must be a str"),
        ({"secret": None}, ValueError, r"Relay\(secret=...\) is required"),
        ({"insecure": True, "secret": SECRET}, ValueError, r"or a secret=, not both"),
        ({"max_age": 0}, ValueError, r"Relay\(max_age=...\) must be a positive"),
        ({"liveness": "1"}, ValueError, r"Relay\(liveness=...\) must be a posi"),
        ({"max_message_bytes": 0}, ValueError, r"Relay\(max_message_bytes=...\)"),
        ({"max_pending": 1.5}, ValueError, r"Relay\(max_pending=...\)"),
        ({"backoff": (1, 0.5)}, ValueError, r"Relay\(backoff=...\) must be"),
        ({"backoff": 1}, ValueError, r"Relay\(backoff=...\) must be"),
        ({"url": "http://example.com"}, ValueError, "Redis URL"),
    ],
)
def test_invalid_arguments_are_named(
    make_relay: MakeRelay,
    options: dict[str, t.Any],
    error: type[Exception],
    message: str,
) -> None:
    with pytest.raises(error, match=message):
        make_relay(**options)


def test_signals_must_be_named_and_their_names_unique(make_relay: MakeRelay) -> None:
    relay = make_relay(Namespace().signal("x"))
    with pytest.raises(
        TypeError, match=r"Relay.add\(\*signals\): <Signal .*NamedSignal"
    ):
        relay.add(Signal())  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="another signal named 'x' is relayed already"):
        relay.add(Namespace().signal("x"))
    assert repr(relay).startswith("<Relay redis://127.0.0.1:")


@pytest.mark.anyio
async def test_a_relay_listens_once_at_a_time(make_relay: MakeRelay) -> None:
    relay = make_relay()
    relay.start_in_thread()
    with pytest.raises(RuntimeError, match="is listening already"):
        async with relay.listening():
            pass
    relay.stop()
    relay.stop()  # stopping twice does nothing
    async with relay.listening():
        with pytest.raises(RuntimeError, match="is listening already"):
            relay.start_in_thread()
    relay.start_in_thread()
