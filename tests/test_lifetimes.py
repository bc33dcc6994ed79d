"""Lifetimes: receivers and senders that die mid-send, at exit, and by the 100,000."""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap
import threading
import tracemalloc
import typing as t

import pytest

from anysignal import Signal

from .helpers import Recorder, assert_no_bookkeeping, run_threads

MEMORY_BOUND = 64 * 1024
"""Bytes a long run of cycles may leave allocated: noise, not growth per cycle."""


class Listener:
    def __init__(self) -> None:
        self.calls = 0

    def on(self, sender: object, **kwargs: object) -> str:
        self.calls += 1
        return "listener"


class Sender:
    pass


def make_function(name: str, calls: list[str]) -> t.Callable[..., str]:
    def receiver(sender: object, **kwargs: object) -> str:
        calls.append(name)
        return name

    return receiver


# -- dying in the middle of a send --------------------------------------------


def test_a_receiver_collected_mid_send_is_not_called_and_leaves_no_trace() -> None:
    sig = Signal()
    calls: list[str] = []
    holder: dict[str, t.Any] = {
        "function": make_function("victim", calls),
        "listener": Listener(),
    }

    def killer(sender: object) -> str:
        holder.clear()  # the last references to both victims
        return "killer"

    sig.connect(killer)
    sig.connect(holder["function"])
    sig.connect(holder["listener"].on, sender="s")
    assert sig.send("s") == [(killer, "killer")]
    assert calls == []
    assert list(sig.receivers) == [id(killer)]
    sig.disconnect(killer)
    assert_no_bookkeeping(sig)


@pytest.mark.anyio
async def test_a_receiver_collected_mid_send_async_is_not_called() -> None:
    sig = Signal()
    calls: list[str] = []
    holder: dict[str, t.Any] = {"function": make_function("victim", calls)}

    async def killer(sender: object) -> str:
        holder.clear()
        gc.collect()
        return "killer"

    sig.connect(killer)
    sig.connect(holder["function"])
    assert await sig.send_async() == [(killer, "killer")]
    assert calls == []
    sig.disconnect(killer)
    assert_no_bookkeeping(sig)


def test_a_receiver_in_a_reference_cycle_collected_mid_send_is_skipped() -> None:
    sig = Signal()

    class Cyclic:
        def __init__(self) -> None:
            self.me = self
            self.calls = 0

        def on(self, sender: object) -> None:
            self.calls += 1

    holder = [Cyclic()]

    def killer(sender: object) -> None:
        holder.clear()
        gc.collect()

    sig.connect(killer)
    sig.connect(holder[0].on)
    assert sig.send() == [(killer, None)]
    sig.disconnect(killer)
    assert_no_bookkeeping(sig)


def test_a_sender_collected_mid_send_takes_only_its_own_subscriptions() -> None:
    sig = Signal()
    calls: list[str] = []
    other = Sender()
    both = make_function("both", calls)
    only_other = make_function("only-other", calls)
    holder = [other]
    del other

    def killer(sender: object) -> None:
        holder.clear()

    sig.connect(killer)
    sig.connect(both, sender=holder[0])
    sig.connect(only_other, sender=holder[0])
    sig.connect(both)
    # ``both`` is still connected for ANY after the other sender dies.
    assert [r for r, _ in sig.send("me")] == [killer, both]
    assert calls == ["both"]
    assert sorted(sig.receivers) == sorted([id(killer), id(both)])
    for receiver in (killer, both):
        sig.disconnect(receiver)
    assert_no_bookkeeping(sig)


def test_a_sender_that_dies_right_after_its_send_leaves_no_trace() -> None:
    sig = Signal()
    calls: list[str] = []
    receiver = make_function("r", calls)
    for _ in range(100):
        sender = Sender()
        sig.connect(receiver, sender=sender)
        assert sig.send(sender) == [(receiver, "r")]
        del sender
        assert_no_bookkeeping(sig)


# -- dying while the lock is held ---------------------------------------------


def test_deaths_while_the_lock_is_held_are_cleaned_up_by_the_next_operation() -> None:
    sig = Signal()
    calls: list[str] = []
    keep = make_function("keep", calls)
    sig.connect(keep)
    holder: dict[str, t.Any] = {
        "receiver": make_function("dead", calls),
        "sender": Sender(),
    }
    sig.connect(holder["receiver"])
    sig.connect(keep, sender=holder["sender"])
    assert len(sig.send(holder["sender"])) == 2
    with sig._lock:  # as if another thread were connecting right now
        holder.clear()
    # The weakref callbacks could not take the lock: the deaths are queued.
    assert len(sig._table.dead) == 2
    assert sig.send() == [(keep, "keep")]
    sig.connect(keep)  # any operation that takes the lock cleans up
    assert sig._table.dead == []
    assert list(sig.receivers) == [id(keep)]
    sig.disconnect(keep)
    assert_no_bookkeeping(sig)


@pytest.mark.anyio
@pytest.mark.parametrize("kind", ["sync", "coroutine"])
async def test_a_lone_receiver_that_died_while_the_lock_was_held_is_not_called(
    kind: str,
) -> None:
    # A lone receiver is called without a loop (see Snapshot.lone_sync): it must
    # skip a dead receiver whose clean-up is still queued, as the loops do.
    sig = Signal()
    rec = Recorder()
    make = rec.sync if kind == "sync" else rec.async_
    holder: dict[str, t.Callable[..., t.Any]] = {"receiver": make("dead")}
    sig.connect(holder["receiver"])

    async def send() -> list[tuple[t.Any, t.Any]]:
        return sig.send() if kind == "sync" else await sig.send_async()

    assert await send() == [(holder["receiver"], "dead")]
    rec.calls.clear()
    with sig._lock:  # as if another thread were connecting right now
        holder.clear()
    assert len(sig._table.dead) == 1
    assert await send() == []
    assert rec.calls == []


def test_a_sender_collected_while_a_change_drops_the_cache_breaks_nothing() -> None:
    # The change walks the cache while the garbage collector, run by an
    # allocation of that walk, frees a sender whose entry it then removes.
    sig = Signal()
    calls: list[str] = []
    victim, bystander = make_function("victim", calls), make_function("by", calls)
    sig.connect(victim)
    senders = [Sender() for _ in range(500)]
    sig.connect(bystander, sender=senders[0])  # now every sender has an entry
    thresholds = gc.get_threshold()
    gc.collect()
    gc.disable()  # until the disconnect: ``doomed`` stays in the young generation
    try:
        doomed = Sender()
        doomed.cycle = doomed  # type: ignore[attr-defined]  # only gc can free it
        sig.connect(bystander, sender=doomed)
        for sender in [*senders, doomed]:
            sig.send(sender)
        del doomed, sender
        gc.set_threshold(gc.get_count()[0] + 100, *thresholds[1:])
        gc.enable()
        sig.disconnect(victim)
    finally:
        gc.set_threshold(*thresholds)
        gc.enable()
    calls.clear()
    for sender in senders[1:]:
        sig.send(sender)
    assert calls == []


def test_a_receivers_for_iterator_follows_changes_after_its_sender_died() -> None:
    sig = Signal()
    calls: list[str] = []
    first, second = make_function("first", calls), make_function("second", calls)
    own = make_function("own", calls)
    sig.connect(first)
    sig.connect(second)
    sender = Sender()
    sig.connect(own, sender=sender)
    receivers = sig.receivers_for(sender)
    assert next(receivers) is first
    del sender
    gc.collect()
    sig.disconnect(second)
    assert list(receivers) == []


class Tidy:
    """Disconnects from ``signal`` in ``__del__``, and keeps what that raised."""

    def __init__(self, signal: Signal, errors: list[BaseException]) -> None:
        self.signal = signal
        self.errors = errors

    def on(self, sender: object, **kwargs: object) -> None:
        pass

    def __del__(self) -> None:
        try:
            self.signal.disconnect(self.on)
        except RuntimeError as exc:  # an exception here would only be printed
            self.errors.append(exc)


def test_a_finalizer_freed_by_a_dying_sender_gets_an_error_not_a_deadlock() -> None:
    # The sender's death removes the strong receiver under the lock, and with
    # it the last reference to its object, whose __del__ then runs there.
    errors: list[BaseException] = []

    def scenario() -> None:
        sig = Signal()
        sender = Sender()
        sig.connect(Tidy(sig, errors).on, sender=sender, weak=False)
        del sender

    assert run_threads([scenario], timeout=10) == []
    assert len(errors) == 1
    assert "__del__" in str(errors[0])


class CollectingReceiver:
    """A receiver whose failed attribute lookups run the garbage collector.

    ``connect`` looks such attributes up (coroutine markers) while it holds the
    lock: the collection happens there, as it could at any allocation.
    """

    def __call__(self, sender: object, **kwargs: object) -> None:
        pass

    def __getattr__(self, name: str) -> t.NoReturn:
        gc.collect()
        raise AttributeError(name)


def test_a_finalizer_run_by_the_gc_during_a_change_gets_an_error_not_a_deadlock() -> (
    None
):
    errors: list[BaseException] = []

    def scenario() -> None:
        sig = Signal()
        tidy = Tidy(sig, errors)
        tidy.cycle = tidy  # type: ignore[attr-defined]  # only gc can free it
        sig.connect(tidy.on)
        del tidy
        sig.connect(CollectingReceiver(), weak=False)

    assert run_threads([scenario], timeout=10) == []
    assert len(errors) == 1
    assert "cannot disconnect" in str(errors[0])


def test_a_new_sender_with_a_dead_senders_id_inherits_nothing() -> None:
    sig = Signal()
    calls: list[str] = []
    receiver = make_function("r", calls)
    for locked in (False, True):
        sender = Sender()
        sig.connect(receiver, sender=sender)
        assert sig.send(sender) == [(receiver, "r")]  # caches its snapshot
        old_id = id(sender)
        if locked:
            with sig._lock:
                del sender
        else:
            del sender
        # Make objects of the same size until one reuses the dead sender's id.
        same_id = None
        keep = []
        for _ in range(10_000):
            candidate = Sender()
            if id(candidate) == old_id:
                same_id = candidate
                break
            keep.append(candidate)
        if same_id is None:  # pragma: no cover - the allocator chose otherwise
            pytest.skip("no object reused the dead sender's id()")
        assert sig.send(same_id) == []
        assert list(sig.receivers_for(same_id)) == []
        assert calls.count("r") == (1 if not locked else 2)
    assert_no_bookkeeping(sig)


# -- interpreter exit ---------------------------------------------------------

EXIT_SCRIPT = textwrap.dedent(
    """
    import functools, threading
    from anysignal import Namespace, Signal, signal

    ns = Namespace()
    module_signal = signal("lifetimes-at-exit")
    other = ns.signal("other")
    plain = Signal()

    class Listener:
        def on(self, sender, **kwargs):
            return "method"
        async def on_async(self, sender, **kwargs):
            return "async"

    class Sender:
        pass

    class Cycle:
        def __init__(self):
            self.me = self
            self.signal = Signal()
            self.signal.connect(self.on)
            self.signal.connect(self.on, sender=self)
        def on(self, sender):
            return "cycle"

    def function(sender, **kwargs):
        other.send(sender)
        return "function"

    listener = Listener()
    sender = Sender()
    cycle = Cycle()
    module_signal.connect(function)
    module_signal.connect(listener.on)
    module_signal.connect(listener.on_async, sender="async only")
    module_signal.connect(function, sender=sender)
    module_signal.connect(lambda s: None, sender=object(), weak=False)
    module_signal.connect(functools.partial(function), weak=False)
    other.connect(listener.on, sender=sender)
    other.connect(function, sender=[1, 2, 3])
    plain.connect(cycle.on, sender=cycle)
    def audit(signal, **kwargs):
        return "audit"

    module_signal.receiver_connected.connect(audit)
    for target in (module_signal, other, plain):
        target.send(sender)

    def in_thread():
        local = Listener()
        module_signal.connect(local.on)
        module_signal.send(sender)

    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join()
    """
)


@pytest.mark.parametrize("flags", [[], ["-X", "dev", "-W", "error"]], ids=repr)
def test_receivers_connected_at_interpreter_exit_print_nothing(
    flags: list[str],
) -> None:
    result = subprocess.run(
        [sys.executable, *flags, "-c", EXIT_SCRIPT],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.stderr == ""
    assert result.returncode == 0


# -- no growth over many cycles -----------------------------------------------


def _growth(cycle: t.Callable[[], object], rounds: int) -> int:
    """Bytes still allocated after ``rounds`` calls of ``cycle``, after warm-up."""
    for _ in range(1000):
        cycle()
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for _ in range(rounds):
            cycle()
        gc.collect()
        return tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()


def _function_cycle(sig: Signal) -> t.Callable[[], None]:
    def receiver(sender: object) -> None:
        pass

    def cycle() -> None:
        sig.connect(receiver)
        sig.disconnect(receiver)

    return cycle


def _method_cycle(sig: Signal) -> t.Callable[[], None]:
    listener = Listener()

    def cycle() -> None:
        sig.connect(listener.on)
        sig.disconnect(listener.on)

    return cycle


def _sender_cycle(sig: Signal) -> t.Callable[[], None]:
    def receiver(sender: object) -> None:
        pass

    sender = Sender()
    sig.connect(receiver)  # stays for ANY while the subscriptions come and go

    def cycle() -> None:
        sig.connect(receiver, sender=sender)
        sig.disconnect(receiver, sender=sender)

    return cycle


@pytest.mark.parametrize(
    "make_cycle",
    [_function_cycle, _method_cycle, _sender_cycle],
    ids=["weak-function", "weak-bound-method", "sender-subscription"],
)
def test_no_memory_growth_over_100_000_connect_disconnect_cycles(
    make_cycle: t.Callable[[Signal], t.Callable[[], None]],
) -> None:
    sig = Signal()
    assert _growth(make_cycle(sig), 100_000) < MEMORY_BOUND


@pytest.mark.stress
def test_no_memory_growth_as_receivers_and_senders_die(stress_seconds: float) -> None:
    sig = Signal()
    calls: list[str] = []  # stays empty: the receivers that would log die first

    def keep(sender: object) -> None:
        pass

    sig.connect(keep)

    def cycle() -> None:
        sig.connect(make_function("dies", calls))  # dies at once: weak
        listener = Listener()
        sig.connect(listener.on)
        sender = Sender()
        sig.connect(keep, sender=sender)
        sig.send(sender)
        sig.send(Sender())  # a sender with no subscription: ANY's snapshot
        del listener, sender

    rounds = 200_000 if stress_seconds > 10 else 10_000
    assert _growth(cycle, rounds) < MEMORY_BOUND
    assert len(sig._table.cache) <= 1024
    assert calls == []
    sig.disconnect(keep)
    assert_no_bookkeeping(sig)


def test_threads_that_end_leave_their_receivers_collected() -> None:
    sig = Signal()

    def connect_and_end() -> None:
        listener = Listener()
        sig.connect(listener.on)
        sig.connect(listener.on, sender="s")
        sig.send("s")

    threads = [threading.Thread(target=connect_and_end) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
        assert not thread.is_alive()
    assert_no_bookkeeping(sig)
