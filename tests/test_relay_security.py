"""The relay as a hostile peer on the same Redis would probe it (issue 15)."""

from __future__ import annotations

import json
import math
import time
import typing as t

import pytest

from anysignal import Namespace
from anysignal.relay import Origin, PayloadError, Relay, local_only, remote_only
from tests.relay_workers.fixtures import (
    PREFIX,
    SECRET,
    Link,
    MakeRelay,
    Received,
    envelope,
    listening_in_thread,
    needs_redis,
    recorder,
    relay_records,
    signed,
    wait_until,
)
from tests.relay_workers.redis_server import RedisServer

redis = pytest.importorskip("redis")

pytestmark = needs_redis


def capture(raw_client: t.Any, channel: str, send: t.Callable[[], object]) -> bytes:
    """Return the message that ``send`` publishes on ``channel``, as Redis has it."""
    pubsub = raw_client.pubsub()
    pubsub.subscribe(channel)
    try:
        assert pubsub.get_message(timeout=5)["type"] == "subscribe"
        send()
        message = pubsub.get_message(timeout=5)
        assert message is not None, f"nothing published on {channel}"
        return t.cast("bytes", message["data"])
    finally:
        pubsub.close()


def kwargs_of(received: Received) -> list[dict[str, t.Any]]:
    return [kwargs for _, kwargs in received]


def send_and_capture(
    make_relay: MakeRelay, raw_client: t.Any, **options: t.Any
) -> tuple[Namespace, bytes]:
    """Make a sending relay of ``x``; return its namespace and one signed message."""
    here = Namespace()
    sender = make_relay(here.signal("x"), **options)
    data = capture(
        raw_client,
        options.get("prefix", PREFIX) + "x",
        lambda: (here.signal("x").send(None, n=0), sender.flush()),
    )
    return here, data


# -- replays --------------------------------------------------------------------


def test_a_capture_replayed_to_a_listener_started_later_is_refused_once_stale(
    make_relay: MakeRelay, raw_client: t.Any, caplog: pytest.LogCaptureFixture
) -> None:
    here, captured = send_and_capture(make_relay, raw_client)
    time.sleep(0.3)  # the capture grows older than the listener's max_age
    there = Namespace()
    remote = recorder(there.signal("x"))
    listening_in_thread(make_relay(there.signal("x"), max_age=0.2))

    raw_client.publish(PREFIX + "x", captured)
    here.signal("x").send(None, n=1)
    wait_until(lambda: len(remote) == 1, "the fresh event")
    assert kwargs_of(remote) == [{"n": 1}]
    assert "beyond max_age=0.2" in caplog.text


def test_a_replay_is_refused_after_events_of_more_than_1024_origins(
    make_relay: MakeRelay, raw_client: t.Any
) -> None:
    there = Namespace()
    remote = recorder(there.signal("x"))
    listening_in_thread(make_relay(there.signal("x")))
    channel = PREFIX + "x"

    def from_origin(number: int) -> bytes:
        origin = {"pid": number, "host": "h", "id": f"origin-{number}"}
        return signed(channel, envelope(origin=origin, kwargs={"n": number}))

    first = from_origin(0)
    pipe = raw_client.pipeline(transaction=False)
    for message in [first, *map(from_origin, range(1, 1100)), first]:
        pipe.publish(channel, message)
    pipe.execute()
    raw_client.publish(channel, from_origin(1100))
    wait_until(lambda: len(remote) >= 1101, "the last origin's event")
    assert [kwargs["n"] for kwargs in kwargs_of(remote)] == list(range(1101))


def test_a_message_replayed_on_another_prefix_is_refused(
    make_relay: MakeRelay, raw_client: t.Any, caplog: pytest.LogCaptureFixture
) -> None:
    other_app = Namespace()
    remote = recorder(other_app.signal("x"))
    listening_in_thread(make_relay(other_app.signal("x"), prefix="other:"))
    _, captured = send_and_capture(make_relay, raw_client)

    raw_client.publish("other:x", captured)
    # A message signed for other:x, sent after the replay, shows it was read.
    raw_client.publish("other:x", signed("other:x", envelope(seq=7)))
    wait_until(lambda: len(remote) == 1, "the event signed for other:")
    assert kwargs_of(remote) == [{"n": 1}]
    assert "published on another channel than it was signed for" in caplog.text


@pytest.mark.parametrize("tail", [b'"]', b"\x00\x00", b'"}}', b'"'])
def test_a_message_whose_last_bytes_changed_is_refused(
    make_relay: MakeRelay, raw_client: t.Any, tail: bytes
) -> None:
    here, captured = send_and_capture(make_relay, raw_client)
    assert captured.endswith(b'"}')
    there = Namespace()
    remote = recorder(there.signal("x"))
    listening_in_thread(make_relay(there.signal("x")))

    raw_client.publish(PREFIX + "x", captured[:-2] + tail)
    here.signal("x").send(None, n=1)
    wait_until(lambda: len(remote) == 1, "the untouched event")
    assert kwargs_of(remote) == [{"n": 1}]


# -- secure by default ----------------------------------------------------------


def test_an_insecure_relay_says_so_when_it_starts(
    make_relay: MakeRelay, caplog: pytest.LogCaptureFixture
) -> None:
    relay = make_relay(insecure=True)
    [warning] = relay_records(caplog)
    assert warning.levelname == "WARNING"
    assert f"{relay!r} relays UNSIGNED messages (insecure=True)" in warning.message


def test_forged_numbers_cannot_silence_an_insecure_sender(
    make_relay: MakeRelay, raw_client: t.Any
) -> None:
    link = Link(make_relay, {"insecure": True}, {"insecure": True})
    origin = {"pid": 1, "host": "h", "id": link.sender.origin.id}
    raw_client.publish(
        PREFIX + "x", envelope(origin=origin, seq=10**15, kwargs={"n": -1})
    )
    link.send()
    wait_until(lambda: link.numbers() == [-1, 0], "the real event after the forged")


def test_unsigned_forged_numbers_cannot_silence_a_signed_sender(
    make_relay: MakeRelay, raw_client: t.Any
) -> None:
    link = Link(make_relay)
    origin = {"pid": 1, "host": "h", "id": link.sender.origin.id}
    raw_client.publish(PREFIX + "x", envelope(origin=origin, seq=10**15))
    link.send()
    wait_until(lambda: link.numbers() == [0], "the real event")


# -- secrets never leak ---------------------------------------------------------

PASSWORD = "hunter2-the-redis-password"


def test_the_redis_password_and_the_secret_never_appear_in_logs_or_reprs(
    make_relay: MakeRelay, caplog: pytest.LogCaptureFixture
) -> None:
    here, there = Namespace(), Namespace()
    remote = recorder(there.signal("x"))
    errors: list[str] = []
    with RedisServer(password=PASSWORD) as server:
        sender = make_relay(here.signal("x"), url=server.url, timeout=0.5)
        listener = listening_in_thread(make_relay(there.signal("x"), url=server.url))
        wrong = server.url.replace(PASSWORD, PASSWORD[::-1])
        make_relay(url=wrong).start_in_thread()  # fails to authenticate, logs
        server.kill()
        here.signal("x").send(None, n=0)
        sender.flush()
        server.start()
        wait_until(lambda: listener.wait_listening(0), "the listener to come back")
        for bad_url in (server.url + "?db=x", server.url.replace("redis:", "http:")):
            with pytest.raises(ValueError, match=r"Relay\(url=...\)") as info:
                Relay(bad_url, secret=SECRET)
            errors.append(str(info.value))
        here.signal("x").send(None, n=1)
        wait_until(lambda: len(remote) == 1, "an event after the restart")
    text = "\n".join([caplog.text, repr(sender), repr(listener), *errors])
    assert ":***@127.0.0.1" in repr(sender)
    assert "relay lost redis://:***@127.0.0.1" in caplog.text
    assert "is not a Redis URL" in errors[1]
    assert PASSWORD not in text
    assert PASSWORD[::-1] not in text
    assert SECRET not in text


# -- bounded logs ---------------------------------------------------------------


def test_a_flood_of_forged_messages_logs_a_few_short_lines(
    make_relay: MakeRelay, raw_client: t.Any, caplog: pytest.LogCaptureFixture
) -> None:
    link = Link(make_relay)
    pipe = raw_client.pipeline(transaction=False)
    for number in range(20_000):
        pipe.publish(PREFIX + "x", envelope(seq=number))
    pipe.publish(PREFIX + "y" * 1_000_000, envelope())
    pipe.execute()
    link.send()
    wait_until(lambda: link.numbers() == [0], "the real event after the flood")
    lines = [record.getMessage() for record in relay_records(caplog)]
    assert 1 <= len(lines) <= 3
    assert max(map(len, lines)) < 500


# -- payloads -------------------------------------------------------------------


def nested(depth: int) -> list[t.Any]:
    value: list[t.Any] = []
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (nested(100_000), "RecursionError"),
        (math.nan, "Out of range float values"),
        (math.inf, "Out of range float values"),
        (-math.inf, "Out of range float values"),
        ({1, 2}, "a set is not a JSON type"),
    ],
    ids=["deep", "nan", "inf", "-inf", "set"],
)
def test_what_the_codec_refuses_raises_payload_error(
    make_relay: MakeRelay, value: object, reason: str
) -> None:
    ns = Namespace()
    make_relay(ns.signal("x"))
    with pytest.raises(PayloadError, match=f"keyword argument 'value'.*{reason}"):
        ns.signal("x").send(None, value=value)


# -- one relay per signal -------------------------------------------------------


def test_a_second_relay_of_a_signal_in_one_process_is_refused(
    make_relay: MakeRelay,
) -> None:
    ns = Namespace()
    first = make_relay(ns.signal("x"))
    with pytest.raises(ValueError, match=r"'x'> is relayed by <Relay .* already"):
        make_relay(ns.signal("x"))
    first.close()
    assert make_relay(ns.signal("x")).signals == (ns.signal("x"),)


# -- isolation ------------------------------------------------------------------


def test_the_default_prefix_keeps_databases_apart(
    make_relay: MakeRelay, redis_server: RedisServer
) -> None:
    here, same_db, other_db = Namespace(), Namespace(), Namespace()
    got_same, got_other = recorder(same_db.signal("x")), recorder(other_db.signal("x"))
    db1 = redis_server.url.removesuffix("/0") + "/1"
    sender = make_relay(here.signal("x"), prefix=None)
    listening_in_thread(make_relay(same_db.signal("x"), prefix=None))
    listening_in_thread(make_relay(other_db.signal("x"), prefix=None, url=db1))
    assert repr(sender).endswith("prefix='anysignal:0:'>")
    here.signal("x").send(None, n=1)
    wait_until(lambda: len(got_same) == 1, "the listener of the same database")
    time.sleep(0.1)  # the other database's listener would have it by now
    assert got_other == []


# -- remote or local events only ------------------------------------------------


def test_remote_only_and_local_only_receivers_choose_by_origin(
    make_relay: MakeRelay,
) -> None:
    here, there = Namespace(), Namespace()
    calls: list[tuple[str, object]] = []

    @there.signal("x").connect
    @remote_only
    def on_remote(sender: object, **kwargs: object) -> None:
        calls.append(("remote", sender))

    @there.signal("x").connect
    @local_only
    def on_local(sender: object, **kwargs: object) -> None:
        calls.append(("local", sender))

    sender = make_relay(here.signal("x"))
    listening_in_thread(make_relay(there.signal("x")))
    here.signal("x").send("elsewhere")
    wait_until(lambda: len(calls) == 1, "the remote event")
    there.signal("x").send("here")
    assert calls == [("remote", sender.origin), ("local", "here")]
    assert on_remote.__name__ == "on_remote"


@pytest.mark.anyio
async def test_remote_only_keeps_a_coroutine_receiver_a_coroutine_receiver(
    make_relay: MakeRelay,
) -> None:
    ns = Namespace()
    calls: list[object] = []

    @ns.signal("x").connect
    @remote_only
    async def on_remote(sender: object, **kwargs: object) -> None:
        calls.append(sender)

    origin = Origin(1, "h", "id")
    await ns.signal("x").send_async("local")
    await ns.signal("x").send_async(origin)
    assert calls == [origin]


def test_the_envelope_is_json_whose_keys_are_sorted(
    make_relay: MakeRelay, raw_client: t.Any
) -> None:
    _, captured = send_and_capture(make_relay, raw_client)
    doc = json.loads(captured)
    assert list(doc) == ["kwargs", "origin", "seq", "signal", "ts", "v", "sig"]
    assert abs(doc["ts"] / 1000 - time.time()) < 5
