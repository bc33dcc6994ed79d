"""A model-based test: random sequences of operations against a reference model.

The model is the Semantics page in a few dicts: each live receiver has a strong
flag and its connections (sender label -> connection number). After every step
the signal must give exactly the receivers the model expects, for every sender,
in connection order, with the right results.

Everything the state machine keeps is addressed by slot numbers: Hypothesis
prints and keeps the arguments of each step, and a receiver or sender passed as
an argument would never be garbage collected.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import sys
import typing as t

import anyio
import anyio.lowlevel
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from anysignal import ANY, AsyncReceiverError, Signal

from .helpers import assert_no_bookkeeping

RECEIVER_KINDS = (
    "function",
    "lambda",
    "async-function",
    "method",
    "async-method",
    "callable",
    "async-callable",
    "partial",
    "async-partial",
    "slotted",  # cannot be weakly referenced
)
RECEIVER_SLOTS = 4

# Sender slots: labelled objects. The weakly referenceable ones can die.
SENDER_SLOTS = ("obj0", "obj1", "str", "int", "zero", "false", "none", "dict")
MORTAL = ("obj0", "obj1")
# ANY and a few senders are listed twice: overlapping connections are the
# interesting ones.
CONNECT_TO = ("ANY", "ANY", "obj0", "obj0", "str", "str", *SENDER_SLOTS)
SEND_AS = ("obj0", "str", *SENDER_SLOTS)

Log = list[str]


class Mortal:
    """A sender that can be weakly referenced, and so can die."""

    def __init__(self, label: str) -> None:
        self.label = label

    def __repr__(self) -> str:
        return f"<Mortal {self.label}>"


class Listener:
    def __init__(self, name: str, log: Log) -> None:
        self.name, self.log = name, log

    def on(self, sender: object, **kwargs: object) -> str:
        self.log.append(self.name)
        return self.name

    async def on_async(self, sender: object, **kwargs: object) -> str:
        await anyio.lowlevel.checkpoint()
        self.log.append(self.name)
        return self.name


class CallableReceiver(Listener):
    def __call__(self, sender: object, **kwargs: object) -> str:
        return self.on(sender, **kwargs)


class AsyncCallableReceiver(Listener):
    async def __call__(self, sender: object, **kwargs: object) -> str:
        return await self.on_async(sender, **kwargs)


class Slotted:
    __slots__ = ("log", "name")

    def __init__(self, name: str, log: Log) -> None:
        self.name, self.log = name, log

    def __call__(self, sender: object, **kwargs: object) -> str:
        self.log.append(self.name)
        return self.name


def _sync_body(name: str, log: Log, sender: object, **kwargs: object) -> str:
    log.append(name)
    return name


async def _async_body(name: str, log: Log, sender: object, **kwargs: object) -> str:
    await anyio.lowlevel.checkpoint()
    log.append(name)
    return name


def make_receiver(  # noqa: PLR0911 - one return per kind
    kind: str, name: str, log: Log
) -> tuple[object, t.Any]:
    """Return (what keeps the receiver alive, the receiver to connect)."""
    if kind == "function":

        def receiver(sender: object, **kwargs: object) -> str:
            log.append(name)
            return name

        return receiver, receiver
    if kind == "lambda":
        func = lambda sender, **kwargs: _sync_body(name, log, sender)  # noqa: E731
        return func, func
    if kind == "async-function":

        async def async_receiver(sender: object, **kwargs: object) -> str:
            return await _async_body(name, log, sender)

        return async_receiver, async_receiver
    if kind in {"method", "async-method"}:
        listener = Listener(name, log)
        return listener, listener.on if kind == "method" else listener.on_async
    if kind == "callable":
        obj = CallableReceiver(name, log)
        return obj, obj
    if kind == "async-callable":
        async_obj = AsyncCallableReceiver(name, log)
        return async_obj, async_obj
    if kind == "partial":
        part = functools.partial(_sync_body, name, log)
        return part, part
    if kind == "async-partial":
        async_part = functools.partial(_async_body, name, log)
        return async_part, async_part
    assert kind == "slotted"
    slotted = Slotted(name, log)
    return slotted, slotted


def run_sync(coroutine_function: t.Callable[..., t.Any]) -> t.Any:
    """An ``_async_wrapper`` for send(): runs the coroutine to its end, like Flask."""

    def run(*args: object, **kwargs: object) -> t.Any:
        return anyio.run(functools.partial(coroutine_function, *args, **kwargs))

    return run


class ReceiverState:
    """The model of one receiver slot."""

    def __init__(self, kind: str, name: str, log: Log) -> None:
        self.kind = kind
        self.name = name
        self.keeper, self.receiver = make_receiver(kind, name, log)
        self.alive = True  # the test still refers to it
        self.strong = False
        self.connections: dict[str, int] = {}  # sender label (or "ANY") -> number
        self.priorities: dict[str, int] = {}  # sender label (or "ANY") -> priority

    @property
    def is_async(self) -> bool:
        return self.kind.startswith("async")

    @property
    def weakrefable(self) -> bool:
        return self.kind != "slotted"


class SignalMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.sig = Signal()
        self.log: Log = []
        self.receivers: list[ReceiverState | None] = [None] * RECEIVER_SLOTS
        self.counter = 0
        self.made = 0
        self.senders: dict[str, object] = {}
        self.sender_labels: dict[str, str] = {}  # slot -> current label
        self.mutes = contextlib.ExitStack()
        # Strongly held receivers whose slot was emptied live on here.
        self.orphans: list[ReceiverState] = []
        self.depth = 0
        for slot in SENDER_SLOTS:
            self._make_sender(slot)

    # -- helpers --------------------------------------------------------------

    def _make_sender(self, slot: str) -> None:
        self.made += 1
        label = f"{slot}#{self.made}" if slot in MORTAL else slot
        value: object = {
            "str": "text",
            "int": 10**30,
            "zero": 0,
            "false": False,
            "none": None,
            "dict": {"unhashable": True},
        }.get(slot, Mortal(label))
        self.senders[slot] = value
        self.sender_labels[slot] = label

    def _send_as(self, slot: str) -> object:
        """What to send for a sender slot: an equal copy for value-keyed ones."""
        value = self.senders[slot]
        if slot == "str":
            return "".join(["te", "xt"])
        if slot == "int":
            return int("1" + "0" * 30)
        return value

    def _expected(self, label: str) -> list[ReceiverState]:
        """Higher priority first, then connection order; once per receiver."""
        places = []
        for state in self.receivers_in_model():
            matching = [
                (-state.priorities[s], n)
                for s, n in state.connections.items()
                if s in {"ANY", label}
            ]
            if matching:
                places.append((min(matching), state))
        return [state for _, state in sorted(places, key=lambda p: p[0])]

    def receivers_in_model(self) -> list[ReceiverState]:
        states = [*self.orphans, *self.receivers]
        return [s for s in states if s is not None and s.connections]

    @initialize(
        kinds=st.lists(
            st.sampled_from(RECEIVER_KINDS),
            min_size=RECEIVER_SLOTS,
            max_size=RECEIVER_SLOTS,
        )
    )
    def start(self, kinds: list[str]) -> None:
        for slot, kind in enumerate(kinds):
            self.make(slot, kind)

    def _forget(self, state: ReceiverState) -> None:
        state.connections.clear()
        state.priorities.clear()
        state.strong = False

    # -- rules ----------------------------------------------------------------

    @rule(slot=st.integers(0, RECEIVER_SLOTS - 1), kind=st.sampled_from(RECEIVER_KINDS))
    def make(self, slot: int, kind: str) -> None:
        if self.receivers[slot] is None:
            self.counter += 1
            self.receivers[slot] = ReceiverState(
                kind, f"r{slot}.{self.counter}", self.log
            )

    @rule(
        slot=st.integers(0, RECEIVER_SLOTS - 1),
        sender=st.sampled_from(CONNECT_TO),
        weak=st.booleans(),
        priority=st.sampled_from([0, 0, 0, 1, -1]),  # mostly the default
    )
    def connect(self, slot: int, sender: str, weak: bool, priority: int) -> None:
        state = self.receivers[slot]
        assert state is not None
        target = ANY if sender == "ANY" else self.senders[sender]
        label = "ANY" if sender == "ANY" else self.sender_labels[sender]
        new_record = not state.connections or (not state.strong and not weak)
        if new_record and weak and not state.weakrefable:
            before = len(self.sig.receivers)
            with pytest.raises(TypeError, match="weak=False"):
                self.sig.connect(
                    state.receiver, sender=target, weak=weak, priority=priority
                )
            assert len(self.sig.receivers) == before
            return
        connected = self.sig.connect(
            state.receiver, sender=target, weak=weak, priority=priority
        )
        assert connected is state.receiver
        if not weak:
            state.strong = True
        if label not in state.connections:
            state.connections[label] = self.counter = self.counter + 1
        state.priorities[label] = priority  # connecting again changes it

    @rule(
        slot=st.integers(0, RECEIVER_SLOTS - 1),
        sender=st.sampled_from(CONNECT_TO),
    )
    def disconnect(self, slot: int, sender: str) -> None:
        state = self.receivers[slot]
        assert state is not None
        if sender == "ANY":
            self.sig.disconnect(state.receiver)
            self._forget(state)
        else:
            self.sig.disconnect(state.receiver, sender=self.senders[sender])
            state.connections.pop(self.sender_labels[sender], None)
            state.priorities.pop(self.sender_labels[sender], None)
            if not state.connections:
                self._forget(state)

    @rule(slot=st.integers(0, RECEIVER_SLOTS - 1), kind=st.sampled_from(RECEIVER_KINDS))
    def drop_receiver(self, slot: int, kind: str) -> None:
        """Drop the test's last reference to a receiver; put a new one in its slot."""
        state = self.receivers[slot]
        assert state is not None
        self.receivers[slot] = None
        if state.connections and state.strong:
            # The signal holds it; so does the model, to disconnect it later.
            self.orphans.append(state)
        del state
        # The event loops of earlier steps may keep a receiver in a reference
        # cycle (through a finished task's result) until the next collection.
        gc.collect()
        self.make(slot, kind)

    @rule(index=st.integers(0, 20))
    def disconnect_orphan(self, index: int) -> None:
        live = [s for s in self.orphans if s.connections]
        if live:
            state = live[index % len(live)]
            self.sig.disconnect(state.receiver)
            self._forget(state)
        self.orphans = [s for s in self.orphans if s.connections]

    @rule(slot=st.sampled_from(MORTAL))
    def drop_sender(self, slot: str) -> None:
        label = self.sender_labels[slot]
        del self.senders[slot]
        gc.collect()
        for state in self.receivers_in_model():
            state.connections.pop(label, None)
            state.priorities.pop(label, None)
            if not state.connections:
                self._forget(state)
        self._make_sender(slot)

    @precondition(lambda self: self.depth < 3)
    @rule()
    def mute(self) -> None:
        self.mutes.enter_context(self.sig.muted())
        self.depth += 1

    @precondition(lambda self: self.depth > 0)
    @rule()
    def unmute(self) -> None:
        # Leave the innermost block only.
        remaining = contextlib.ExitStack()
        stack = self.mutes
        self.mutes = remaining
        self.depth -= 1
        stack.close()
        for _ in range(self.depth):
            self.mutes.enter_context(self.sig.muted())

    @rule(sender=st.sampled_from(SEND_AS), wrapped=st.booleans())
    def send(self, sender: str, wrapped: bool) -> None:
        expected = [] if self.depth else self._expected(self.sender_labels[sender])
        self.log.clear()
        value = self._send_as(sender)
        if any(s.is_async for s in expected) and not wrapped:
            with pytest.raises(AsyncReceiverError):
                self.sig.send(value)
            assert self.log == []
            return
        wrapper = run_sync if wrapped else None
        results = self.sig.send(value, _async_wrapper=wrapper, extra=1)
        assert results == [(s.receiver, s.name) for s in expected]
        assert self.log == [s.name for s in expected]

    @rule(
        sender=st.sampled_from(SEND_AS),
        backend=st.sampled_from(("asyncio", "trio")),
    )
    def send_async(self, sender: str, backend: str) -> None:
        expected = [] if self.depth else self._expected(self.sender_labels[sender])
        self.log.clear()
        value = self._send_as(sender)

        async def main() -> list[tuple[t.Any, t.Any]]:
            return await self.sig.send_async(value, extra=2)

        results = anyio.run(main, backend=backend)
        assert results == [(s.receiver, s.name) for s in expected]
        assert self.log == [s.name for s in expected]

    # -- invariants -----------------------------------------------------------

    @invariant()
    def receivers_match_the_model(self) -> None:
        assert self.sig.is_muted == (self.depth > 0)
        assert len(self.sig.receivers) == len(self.receivers_in_model())
        assert self.sig._table.dead == []
        for slot in SENDER_SLOTS:
            expected = [s.receiver for s in self._expected(self.sender_labels[slot])]
            assert list(self.sig.receivers_for(self._send_as(slot))) == expected
            if expected:
                assert self.sig.has_receivers_for(self._send_as(slot))
        expected_any = [
            s.receiver
            for s in sorted(
                (s for s in self.receivers_in_model() if "ANY" in s.connections),
                key=lambda s: (-s.priorities["ANY"], s.connections["ANY"]),
            )
        ]
        assert list(self.sig.receivers_for(ANY)) == expected_any

    def teardown(self) -> None:
        self.mutes.close()
        for state in self.receivers_in_model():
            self.sig.disconnect(state.receiver)
        gc.collect()
        assert_no_bookkeeping(self.sig)


# ``--stress`` (``nox -s stress``) runs many more examples: it is read from the
# command line because Hypothesis settings are fixed when the module loads.
STRESS = "--stress" in sys.argv

SignalMachine.TestCase.settings = settings(
    max_examples=200 if STRESS else 25,
    stateful_step_count=40 if STRESS else 25,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestSignalModel = pytest.mark.stress(SignalMachine.TestCase)
