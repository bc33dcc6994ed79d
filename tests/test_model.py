"""A model-based test: random sequences of operations against a reference model.

The model is the Semantics page in a few dicts: each live receiver has a strong
flag and its connections (sender label -> connection number, and priority).
After every step the signal must give exactly the receivers the model expects,
for every sender, by priority and then connection order, hold each one weakly or
strongly as the model says, and every send must call the receivers the model
expects, with the sender and the keyword arguments it was given, and return
their results (or, in a robust send, their exceptions).

The model covers:

- receivers of every kind, held weakly or strongly, that die with their last
  reference; bound methods, methods of built-in types (``some_list.append``)
  and method-wrappers (``some_partial.__call__``), all fetched afresh at each
  use, as application code does: each fetch is a new object, yet it is the same
  receiver;
- senders matched by value (``str``, ``int``) or by identity, mortal ones, and
  bound-method senders (``obj.method``), fetched afresh too, whose
  subscriptions last as long as their instance;
- priorities, also changed by connecting again;
- ``send`` (with and without ``_async_wrapper``), ``send_robust``,
  ``send_async``, ``send_async_robust`` (with and without ``_sync_wrapper``)
  and ``send_concurrent``, with receivers that raise on some sends, and sends
  whose keyword names are those of the send loops' own locals;
- nested muting, and a ``receiver_connected`` meta-receiver that refuses some
  connections, which must then leave the signal exactly as it was.

Everything the state machine keeps is addressed by slot numbers: Hypothesis
prints and keeps the arguments of each step, and a receiver or sender passed as
an argument would never be garbage collected. For the same reason the records
of what receivers got (senders among them) are cleared at the end of each step.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import gc
import logging
import sys
import typing as t
import weakref
from collections.abc import Iterator

import anyio
import anyio.lowlevel
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
)

from anysignal import ANY, AsyncReceiverError, ReceiverErrors, Signal

from .helpers import Boom, assert_no_bookkeeping

Receiver: t.TypeAlias = t.Callable[..., t.Any]

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
    "builtin-method",  # some_list.append: strong only, takes no keyword arguments
    "method-wrapper",  # some_partial.__call__: strong only
)
RECEIVER_SLOTS = 4

# Receivers of these kinds are fetched from their object at each use, as
# ``obj.method`` is in application code: each fetch is a new object.
FETCHED = {
    "method": "on",
    "async-method": "on_async",
    "builtin-method": "append",
    "method-wrapper": "__call__",
}
# Kinds that a signal cannot hold weakly: connecting them with weak=True is refused.
STRONG_ONLY = ("slotted", "builtin-method", "method-wrapper")

# Sender slots: labelled objects, and methods of some of them (fetched afresh at
# each use, as for receivers). The weakly referenceable objects can die, and take
# their methods' subscriptions with them.
SENDER_SLOTS = (
    "obj0",
    "obj1",
    "obj0.meth",
    "obj0.other",  # another method of the same instance: another sender
    "obj1.meth",  # the same method of another instance: another sender
    "journal.append",  # a method of a built-in type
    "str",
    "int",
    "zero",
    "false",
    "none",
    "dict",
)
# The objects of the sender slots, by the part of their name before any dot.
SENDER_OBJECTS = (
    "obj0",
    "obj1",
    "journal",
    "str",
    "int",
    "zero",
    "false",
    "none",
    "dict",
)
MORTAL = ("obj0", "obj1")
# ANY and a few senders are listed more than once: overlapping connections
# are the interesting ones, and a send to a sender nobody is connected to calls
# nothing.
FAVOURITES = ("obj0", "obj0.meth", "str")
CONNECT_TO = ("ANY",) * 4 + FAVOURITES * 2 + SENDER_SLOTS
SEND_AS = FAVOURITES * 2 + SENDER_SLOTS

# Keyword argument names for sends: the names of the send loops' own locals and
# parameters, past and present (see anysignal._loops), the send methods' positional-only
# parameters, names that are not plain identifiers (served by the loop that
# passes ``**kwargs``), and the options of the other send methods, which are
# ordinary keyword arguments to a method that has no such option.
KWARG_NAMES = (
    "extra",
    "receiver",
    "results",
    "result",
    "dispatch",
    "snapshot",
    "call",
    "exc",
    "kwargs",
    "failures",
    "wrapper",
    "get",
    "is_async",
    "v0",
    "v1",
    "sender",  # send()'s sender is positional-only: this one reaches receivers
    "self",
    "args",
    "name",
    "calls",
    "class",
    "not-a-name",
    "\ufb01",  # the "fi" ligature, which the compiler would normalise to "fi"
    "__debug__",
    "_async_wrapper",
    "_sync_wrapper",
    "_raise_group",
    "_limit",
    "_sync_in_thread",
)
# The options of each send method: never passed on to receivers, so never drawn.
OPTIONS = {
    "send": {"_async_wrapper"},
    "send_robust": {"_async_wrapper", "_raise_group"},
    "send_async": {"_sync_wrapper"},
    "send_async_robust": {"_sync_wrapper", "_raise_group"},
    "send_concurrent": {"_limit", "_sync_in_thread"},
}

kwarg_names = st.one_of(
    st.just(()),  # most sends in real code pass few keyword arguments
    st.lists(st.sampled_from(KWARG_NAMES), unique=True, min_size=1, max_size=3).map(
        tuple
    ),
)
# The slots whose receivers raise in one send: mostly none.
failing_slots = st.one_of(
    st.just(frozenset[int]()),
    st.frozensets(st.integers(0, RECEIVER_SLOTS - 1), min_size=1, max_size=2),
)


@dataclasses.dataclass
class Call:
    """One call of a recording receiver."""

    name: str
    sender: object
    kwargs: dict[str, object]


class Calls:
    """What the recording receivers of one machine did, and which of them fail."""

    def __init__(self) -> None:
        self.log: list[Call] = []
        self.failing: frozenset[str] = frozenset()  # names that raise when called
        self.raised: dict[str, Boom] = {}  # name -> what it raised, in this step

    def record(self, name: str, sender: object, kwargs: dict[str, object]) -> str:
        self.log.append(Call(name, sender, kwargs))
        if name in self.failing:
            self.raised[name] = error = Boom(name)
            raise error
        return name

    def clear(self) -> None:
        self.log.clear()
        self.raised.clear()
        self.failing = frozenset()


class Refused(Exception):
    """What the machine's ``receiver_connected`` receiver raises to refuse a connect."""


class Mortal:
    """A sender that can be weakly referenced, and so can die; so can its methods."""

    def __init__(self, label: str) -> None:
        self.label = label

    def __repr__(self) -> str:
        return f"<Mortal {self.label}>"

    def meth(self) -> None: ...

    def other(self) -> None: ...


# Every receiver takes the sender positionally only: ``sender=`` (or ``self=``,
# ``name=``...) may be a keyword argument of the send, which it must receive.
class Listener:
    def __init__(self, name: str, calls: Calls) -> None:
        self.name, self.calls = name, calls

    def on(self, sender: object, /, **kwargs: object) -> str:
        return self.calls.record(self.name, sender, kwargs)

    async def on_async(self, sender: object, /, **kwargs: object) -> str:
        await anyio.lowlevel.checkpoint()
        return self.calls.record(self.name, sender, kwargs)


class CallableReceiver(Listener):
    def __call__(self, sender: object, /, **kwargs: object) -> str:
        return self.on(sender, **kwargs)


class AsyncCallableReceiver(Listener):
    async def __call__(self, sender: object, /, **kwargs: object) -> str:
        return await self.on_async(sender, **kwargs)


class Slotted:
    __slots__ = ("calls", "name")

    def __init__(self, name: str, calls: Calls) -> None:
        self.name, self.calls = name, calls

    def __call__(self, sender: object, /, **kwargs: object) -> str:
        return self.calls.record(self.name, sender, kwargs)


def _sync_body(name: str, calls: Calls, sender: object, /, **kwargs: object) -> str:
    return calls.record(name, sender, kwargs)


async def _async_body(
    name: str, calls: Calls, sender: object, /, **kwargs: object
) -> str:
    await anyio.lowlevel.checkpoint()
    return calls.record(name, sender, kwargs)


def make_receiver(kind: str, name: str, calls: Calls) -> object:  # noqa: PLR0911
    """Return what keeps the receiver alive: the receiver itself, or for the
    kinds in FETCHED, the object it is fetched from."""
    if kind == "function":

        def receiver(sender: object, /, **kwargs: object) -> str:
            return calls.record(name, sender, kwargs)

        return receiver
    if kind == "lambda":
        return lambda sender, /, **kwargs: calls.record(name, sender, kwargs)
    if kind == "async-function":

        async def async_receiver(sender: object, /, **kwargs: object) -> str:
            await anyio.lowlevel.checkpoint()
            return calls.record(name, sender, kwargs)

        return async_receiver
    if kind in {"method", "async-method"}:
        return Listener(name, calls)
    if kind == "callable":
        return CallableReceiver(name, calls)
    if kind == "async-callable":
        return AsyncCallableReceiver(name, calls)
    if kind in {"partial", "method-wrapper"}:
        return functools.partial(_sync_body, name, calls)
    if kind == "async-partial":
        return functools.partial(_async_body, name, calls)
    if kind == "builtin-method":
        # It records a call by appending the sender to this list, and cannot
        # take keyword arguments: a send with some makes it raise TypeError.
        return []
    assert kind == "slotted"
    return Slotted(name, calls)


def run_sync(coroutine_function: t.Callable[..., t.Any]) -> t.Any:
    """An ``_async_wrapper`` for send(): runs the coroutine to its end, like Flask."""

    def run(*args: object, **kwargs: object) -> t.Any:
        return anyio.run(functools.partial(coroutine_function, *args, **kwargs))

    return run


def run_inline(function: t.Callable[..., t.Any]) -> t.Callable[..., t.Any]:
    """A ``_sync_wrapper`` for send_async(): a coroutine function that calls it."""

    async def call(*args: object, **kwargs: object) -> t.Any:
        return function(*args, **kwargs)

    return call


def holding(sig: Signal) -> object:
    """Everything about how ``sig`` holds its receivers and senders.

    A connect that raises must leave all of it as it was: the receivers, weakly
    or strongly held, the senders each is connected to, the connection numbers
    (the order), the priorities, and the senders held.
    """
    table = sig._table
    return (
        {
            key: (record(), record.weak, tuple(record.senders))
            for key, record in table.receivers.items()
        },
        {skey: dict(connections) for skey, connections in table.by_sender.items()},
        {skey: isinstance(held, weakref.ref) for skey, held in table.held.items()},
        dict(table.priorities),
    )


class LogCapture(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@contextlib.contextmanager
def captured_log() -> Iterator[list[logging.LogRecord]]:
    """Capture the ``anysignal`` logger's records for one step.

    They do not propagate to pytest's own capture, which would keep them (and
    so their tracebacks, and the senders in those) until the test ends.
    """
    logger = logging.getLogger("anysignal")
    handler = LogCapture()
    propagate, logger.propagate = logger.propagate, False
    logger.addHandler(handler)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


def leaves(group: BaseException) -> list[BaseException]:
    """The exceptions in a (possibly nested) exception group."""
    if isinstance(group, BaseExceptionGroup):
        return [leaf for exc in group.exceptions for leaf in leaves(exc)]
    return [group]


class ReceiverState:
    """The model of one receiver slot."""

    def __init__(self, kind: str, name: str, calls: Calls) -> None:
        self.kind = kind
        self.name = name
        self.keeper = make_receiver(kind, name, calls)
        self.journal: list[object] | None = (
            self.keeper if isinstance(self.keeper, list) else None
        )
        self.strong = False
        self.connections: dict[str, int] = {}  # sender label (or "ANY") -> number
        self.priorities: dict[str, int] = {}  # sender label (or "ANY") -> priority

    @property
    def receiver(self) -> Receiver:
        """The receiver: a fresh fetch of it, for the kinds that are fetched."""
        attribute = FETCHED.get(self.kind)
        if attribute is None:
            return t.cast(Receiver, self.keeper)
        return t.cast(Receiver, getattr(self.keeper, attribute))

    @property
    def is_async(self) -> bool:
        return self.kind.startswith("async")

    @property
    def can_be_weak(self) -> bool:
        return self.kind not in STRONG_ONLY

    @property
    def result(self) -> str | None:
        """What a call returns when it does not raise."""
        return None if self.journal is not None else self.name

    def error(
        self, kwargs: dict[str, object], failing: frozenset[str]
    ) -> type[Exception] | None:
        """The type of the exception a call with ``kwargs`` raises, if any."""
        if self.journal is not None:  # list.append() takes no keyword arguments
            return TypeError if kwargs else None
        return Boom if self.name in failing else None


Plan: t.TypeAlias = list[tuple[ReceiverState, type[Exception] | None]]
"""The receivers a send calls, in order, each with the exception it raises."""


class SignalMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.sig = Signal()
        self.calls = Calls()
        self.receivers: list[ReceiverState | None] = [None] * RECEIVER_SLOTS
        self.counter = 0
        self.made = 0
        self.senders: dict[str, object] = {}
        self.sender_labels: dict[str, str] = {}  # slot -> current label
        self.mutes = contextlib.ExitStack()
        # Strongly held receivers whose slot was emptied live on here.
        self.orphans: list[ReceiverState] = []
        self.depth = 0
        # The receiver_connected receiver: connected while ``watching``; it
        # records what it is told, and raises while ``refusing``.
        self.watching = False
        self.refusing = False
        self.announced: list[dict[str, object]] = []
        for slot in SENDER_OBJECTS:
            self._make_sender(slot)

    # -- helpers --------------------------------------------------------------

    def _make_sender(self, slot: str) -> None:
        self.made += 1
        label = f"{slot}#{self.made}" if slot in MORTAL else slot
        value: object = {
            "journal": [],
            "str": "text",
            "int": 10**30,
            "zero": 0,
            "false": False,
            "none": None,
            "dict": {"unhashable": True},
        }.get(slot, Mortal(label))
        self.senders[slot] = value
        self.sender_labels[slot] = label

    def _label(self, slot: str) -> str:
        """The model's name for a sender slot's current sender."""
        if slot == "ANY":
            return "ANY"
        owner, dot, attribute = slot.partition(".")
        return self.sender_labels[owner] + dot + attribute

    def _target(self, slot: str) -> object:
        """What to connect for a sender slot: a fresh fetch, for a method."""
        if slot == "ANY":
            return ANY
        owner, dot, attribute = slot.partition(".")
        value = self.senders[owner]
        return getattr(value, attribute) if dot else value

    def _send_as(self, slot: str) -> object:
        """What to send for a sender slot: an equal copy for value-keyed ones."""
        if slot == "str":
            return "".join(["te", "xt"])
        if slot == "int":
            return int("1" + "0" * 30)
        return self._target(slot)

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

    def _to_call(self, slot: str) -> list[ReceiverState]:
        """The receivers a send by a sender slot calls now: none while muted."""
        return [] if self.depth else self._expected(self._label(slot))

    def receivers_in_model(self) -> list[ReceiverState]:
        states = [*self.orphans, *self.receivers]
        return [s for s in states if s is not None and s.connections]

    def _all_states(self) -> list[ReceiverState]:
        return [s for s in [*self.orphans, *self.receivers] if s is not None]

    def _forget(self, state: ReceiverState) -> None:
        state.connections.clear()
        state.priorities.clear()
        state.strong = False

    def _on_connect(self, signal: object, /, **kwargs: object) -> None:
        """The ``receiver_connected`` receiver: records, and refuses on demand."""
        assert signal is self.sig
        self.announced.append(kwargs)
        if self.refusing:
            raise Refused

    # -- checking sends -------------------------------------------------------

    def _prepare_send(
        self, method: str, names: tuple[str, ...], failing: frozenset[int]
    ) -> dict[str, t.Any]:
        """Tell the receivers in ``failing`` to raise; return the send's kwargs."""
        self._clear_calls()
        self.calls.failing = frozenset(
            state.name for slot in failing if (state := self.receivers[slot])
        )
        return {name: f"<{name}>" for name in names if name not in OPTIONS[method]}

    def _clear_calls(self) -> None:
        """Forget what receivers got: it holds senders, which must be free to die."""
        self.calls.clear()
        for state in self._all_states():
            if state.journal is not None:
                state.journal.clear()

    def _plan(
        self, to_call: list[ReceiverState], kwargs: dict[str, object], *, robust: bool
    ) -> Plan:
        """What a sequential send calls: all, or up to the first that raises."""
        plan: Plan = []
        for state in to_call:
            error = state.error(kwargs, self.calls.failing)
            plan.append((state, error))
            if error is not None and not robust:
                break
        return plan

    def _check_calls(
        self,
        called: list[ReceiverState],
        value: object,
        kwargs: dict[str, object],
        *,
        ordered: bool = True,
    ) -> None:
        """Check that exactly ``called`` were called, with ``value`` and ``kwargs``."""
        recording = [s.name for s in called if s.journal is None]
        logged = [call.name for call in self.calls.log]
        if ordered:
            assert logged == recording
        else:
            assert sorted(logged) == sorted(recording)
        for call in self.calls.log:
            assert call.sender is value
            assert call.kwargs == kwargs
        for state in self._all_states():
            if state.journal is not None:
                appended = state in called and not kwargs
                assert len(state.journal) == appended
                assert all(item is value for item in state.journal)

    def _check_exception(self, exc: BaseException, state: ReceiverState) -> None:
        """Check that ``exc`` is the very exception ``state``'s receiver raised."""
        if state.journal is not None:
            assert type(exc) is TypeError
            assert "keyword arguments" in str(exc)
        else:
            assert exc is self.calls.raised[state.name]

    def _check_results(self, results: list[tuple[t.Any, t.Any]], plan: Plan) -> None:
        assert len(results) == len(plan)
        for (receiver, result), (state, error) in zip(results, plan, strict=True):
            assert receiver == state.receiver
            if error is None:
                assert result == state.result
            else:
                self._check_exception(result, state)

    def _check_robust(
        self,
        run: t.Callable[[], list[tuple[t.Any, t.Any]]],
        plan: Plan,
        *,
        raise_group: bool,
    ) -> None:
        """Run a robust send; check its results, and its log or its group."""
        failed = [(state, error) for state, error in plan if error is not None]
        with captured_log() as records:
            if raise_group and failed:
                with pytest.raises(ReceiverErrors) as info:
                    run()
                group = info.value
                results = group.results
                assert len(group.exceptions) == len(failed)
                for exc, (state, _) in zip(group.exceptions, failed, strict=True):
                    self._check_exception(exc, state)
                    assert exc.__notes__[-1].startswith("raised by receiver")
            else:
                results = run()
        self._check_results(results, plan)
        failures = [result for _, result in results if isinstance(result, Exception)]
        if raise_group:
            assert records == []
        else:
            # One error record per failure, in order, with its traceback.
            assert [r.levelno for r in records] == [logging.ERROR] * len(failures)
            for record, exc in zip(records, failures, strict=True):
                assert record.exc_info is not None
                assert record.exc_info[1] is exc
                assert record.getMessage().endswith(f"of {self.sig!r} raised")

    @initialize(
        kinds=st.lists(
            st.sampled_from(RECEIVER_KINDS),
            min_size=RECEIVER_SLOTS,
            max_size=RECEIVER_SLOTS,
        ),
        connections=st.lists(
            st.tuples(
                st.integers(0, RECEIVER_SLOTS - 1),
                st.sampled_from(CONNECT_TO),
                st.booleans(),
                st.sampled_from([0, 0, 1, -1]),
            ),
            max_size=RECEIVER_SLOTS + 2,
        ),
        watching=st.booleans(),
    )
    def start(
        self,
        kinds: list[str],
        connections: list[tuple[int, str, bool, int]],
        watching: bool,
    ) -> None:
        """Make the receivers, and connect some of them.

        Hypothesis runs each example with a random subset of the rules (swarm
        testing): connections made here give the sends of every example
        something to call, even of those that never connect.
        """
        for slot, kind in enumerate(kinds):
            self.make(slot, kind)
        for slot, sender, weak, priority in connections:
            self.connect(
                slot=slot, sender=sender, weak=weak, priority=priority, refuse=False
            )
        if watching:
            self.toggle_watching()

    # -- rules ----------------------------------------------------------------

    @rule(slot=st.integers(0, RECEIVER_SLOTS - 1), kind=st.sampled_from(RECEIVER_KINDS))
    def make(self, slot: int, kind: str) -> None:
        if self.receivers[slot] is None:
            self.counter += 1
            self.receivers[slot] = ReceiverState(
                kind, f"r{slot}.{self.counter}", self.calls
            )

    @rule()
    def toggle_watching(self) -> None:
        """Connect or disconnect the ``receiver_connected`` receiver."""
        if self.watching:
            self.sig.receiver_connected.disconnect(self._on_connect)
        else:
            self.sig.receiver_connected.connect(self._on_connect, sender=self.sig)
        self.watching = not self.watching

    @rule(
        slot=st.integers(0, RECEIVER_SLOTS - 1),
        sender=st.sampled_from(CONNECT_TO),
        weak=st.booleans(),
        priority=st.sampled_from([0, 0, 0, 1, -1, 2]),  # mostly the default
        refuse=st.sampled_from([False, False, True]),
    )
    def connect(
        self, *, slot: int, sender: str, weak: bool, priority: int, refuse: bool
    ) -> None:
        """Connect; when the meta-receiver refuses, nothing at all may change."""
        state = self.receivers[slot]
        assert state is not None
        receiver = state.receiver  # a fresh fetch, for the fetched kinds
        target = self._target(sender)
        label = self._label(sender)
        before = holding(self.sig)
        self.announced.clear()
        new_record = not state.connections or (not state.strong and not weak)
        if new_record and weak and not state.can_be_weak:
            with pytest.raises(TypeError, match="weak=False"):
                self.sig.connect(receiver, sender=target, weak=weak, priority=priority)
            assert holding(self.sig) == before
            assert self.announced == []
            return
        self.refusing = refuse
        try:
            if refuse and self.watching:
                with pytest.raises(Refused):
                    self.sig.connect(
                        receiver, sender=target, weak=weak, priority=priority
                    )
                assert holding(self.sig) == before
                self._check_announced(receiver, target, weak)
                return
            connected = self.sig.connect(
                receiver, sender=target, weak=weak, priority=priority
            )
        finally:
            self.refusing = False
        assert connected is receiver
        self._check_announced(receiver, target, weak)
        if not weak:
            state.strong = True
        if label not in state.connections:
            state.connections[label] = self.counter = self.counter + 1
        state.priorities[label] = priority  # connecting again changes it

    @rule(
        slot=st.integers(0, RECEIVER_SLOTS - 1),
        choice=st.integers(0, 20),
        weak=st.booleans(),
        priority=st.sampled_from([0, 1, -1, 2]),
        refuse=st.booleans(),
    )
    def reconnect(
        self, *, slot: int, choice: int, weak: bool, priority: int, refuse: bool
    ) -> None:
        """Connect a receiver again for a sender it is connected to.

        Only its priority can change (and weak can become strong); its number,
        and so its place among equal priorities, stays. A refused reconnect
        must restore the previous priority and holding.
        """
        state = self.receivers[slot]
        assert state is not None
        connected = [
            sender
            for sender in dict.fromkeys(CONNECT_TO)
            if self._label(sender) in state.connections
        ]
        if connected:
            sender = connected[choice % len(connected)]
            self.connect(
                slot=slot, sender=sender, weak=weak, priority=priority, refuse=refuse
            )

    def _check_announced(self, receiver: object, target: object, weak: bool) -> None:
        if self.watching:
            [announced] = self.announced
            assert announced.keys() == {"receiver", "sender", "weak"}
            assert announced["receiver"] is receiver
            assert announced["sender"] is target
            assert announced["weak"] is weak
            self.announced.clear()
        else:
            assert self.announced == []

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
            self.sig.disconnect(state.receiver, sender=self._target(sender))
            state.connections.pop(self._label(sender), None)
            state.priorities.pop(self._label(sender), None)
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
        # The event loops of earlier steps, and the tracebacks of exceptions
        # that receivers raised, may keep a receiver in a reference cycle until
        # the next collection.
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
        """Drop a sender: its subscriptions, and those of its methods, end."""
        label = self.sender_labels[slot]
        del self.senders[slot]
        gc.collect()
        for state in self.receivers_in_model():
            for connected in list(state.connections):
                if connected == label or connected.startswith(f"{label}."):
                    del state.connections[connected]
                    del state.priorities[connected]
            if not state.connections:
                self._forget(state)
        self._make_sender(slot)

    @rule(deeper=st.booleans())
    def mute(self, deeper: bool) -> None:
        """Enter a muted() block (at most three deep), or leave the innermost one.

        One rule for both ways: Hypothesis runs each example with some of the
        rules only, and an example that could mute but not unmute would send
        to a muted signal from then on.
        """
        if deeper and self.depth < 3:
            self.mutes.enter_context(self.sig.muted())
            self.depth += 1
        elif not deeper and self.depth > 0:
            # Leave the innermost block only.
            remaining = contextlib.ExitStack()
            stack = self.mutes
            self.mutes = remaining
            self.depth -= 1
            stack.close()
            for _ in range(self.depth):
                self.mutes.enter_context(self.sig.muted())

    @rule(
        sender=st.sampled_from(SEND_AS),
        robust=st.sampled_from((False, True, "raise group")),
        wrapper=st.sampled_from(("absent", None, "run_sync")),
        names=kwarg_names,
        failing=failing_slots,
    )
    def send(
        self,
        *,
        sender: str,
        robust: bool | str,
        wrapper: str | None,
        names: tuple[str, ...],
        failing: frozenset[int],
    ) -> None:
        """``send`` or ``send_robust``, with or without an ``_async_wrapper``."""
        method = "send_robust" if robust else "send"
        kwargs = self._prepare_send(method, names, failing)
        to_call = self._to_call(sender)
        value = self._send_as(sender)
        options: dict[str, t.Any] = {}
        if wrapper != "absent":
            options["_async_wrapper"] = run_sync if wrapper else None
        if robust == "raise group":
            options["_raise_group"] = True

        def run() -> list[tuple[t.Any, t.Any]]:
            return getattr(self.sig, method)(value, **options, **kwargs)  # type: ignore[no-any-return]

        try:
            if wrapper != "run_sync" and any(s.is_async for s in to_call):
                # Refused before any receiver runs.
                with pytest.raises(AsyncReceiverError):
                    run()
                self._check_calls([], value, kwargs)
                return
            plan = self._plan(to_call, kwargs, robust=bool(robust))
            self._check_sequential(run, plan, robust=robust)
            self._check_calls([state for state, _ in plan], value, kwargs)
        finally:
            self._clear_calls()

    def _check_sequential(
        self,
        run: t.Callable[[], list[tuple[t.Any, t.Any]]],
        plan: Plan,
        *,
        robust: bool | str,
    ) -> None:
        if robust:
            self._check_robust(run, plan, raise_group=robust == "raise group")
            return
        with captured_log() as records:
            if plan and plan[-1][1] is not None:
                # The exception propagates unchanged; the receivers after it
                # did not run (the plan stops at it).
                state, error = plan[-1]
                assert error is not None
                with pytest.raises(error) as info:
                    run()
                self._check_exception(info.value, state)
            else:
                self._check_results(run(), plan)
        assert records == []

    @rule(
        sender=st.sampled_from(SEND_AS),
        backend=st.sampled_from(("asyncio", "trio")),
        robust=st.sampled_from((False, True, "raise group")),
        wrapped=st.booleans(),
        names=kwarg_names,
        failing=failing_slots,
    )
    def send_async(
        self,
        *,
        sender: str,
        backend: str,
        robust: bool | str,
        wrapped: bool,
        names: tuple[str, ...],
        failing: frozenset[int],
    ) -> None:
        """``send_async`` or ``send_async_robust``, with or without a sync wrapper."""
        method = "send_async_robust" if robust else "send_async"
        kwargs = self._prepare_send(method, names, failing)
        to_call = self._to_call(sender)
        value = self._send_as(sender)
        options: dict[str, t.Any] = {"_sync_wrapper": run_inline} if wrapped else {}
        if robust == "raise group":
            options["_raise_group"] = True

        def run() -> list[tuple[t.Any, t.Any]]:
            async def main() -> list[tuple[t.Any, t.Any]]:
                return await getattr(self.sig, method)(value, **options, **kwargs)  # type: ignore[no-any-return]

            return anyio.run(main, backend=backend)

        try:
            plan = self._plan(to_call, kwargs, robust=bool(robust))
            self._check_sequential(run, plan, robust=robust)
            self._check_calls([state for state, _ in plan], value, kwargs)
        finally:
            self._clear_calls()

    @rule(
        sender=st.sampled_from(SEND_AS),
        backend=st.sampled_from(("asyncio", "trio")),
        limit=st.sampled_from((None, 1, 2)),
        names=kwarg_names,
        failing=failing_slots,
    )
    def send_concurrent(
        self,
        *,
        sender: str,
        backend: str,
        limit: int | None,
        names: tuple[str, ...],
        failing: frozenset[int],
    ) -> None:
        """All at once: results in order; when receivers raise, a group of errors.

        Which receivers run before a failure cancels the others depends on the
        scheduler (trio's is random on purpose), so a failing send is checked
        for what is certain: only expected receivers ran, once, with the right
        arguments, and the group holds only their exceptions.
        """
        kwargs = self._prepare_send("send_concurrent", names, failing)
        to_call = self._to_call(sender)
        value = self._send_as(sender)

        async def main() -> list[tuple[t.Any, t.Any]]:
            return await self.sig.send_concurrent(value, _limit=limit, **kwargs)

        try:
            plan = self._plan(to_call, kwargs, robust=True)
            failed = {state.name: state for state, error in plan if error is not None}
            if not failed:
                self._check_results(anyio.run(main, backend=backend), plan)
                self._check_calls(to_call, value, kwargs, ordered=False)
                return
            with pytest.raises(BaseExceptionGroup) as info:
                anyio.run(main, backend=backend)
            errors = leaves(info.value)
            assert errors
            for exc in errors:
                if isinstance(exc, Boom):
                    self._check_exception(exc, failed[exc.args[0]])
                else:  # from list.append(), given keyword arguments
                    builtin = [s for s in failed.values() if s.journal is not None]
                    assert builtin
                    self._check_exception(exc, builtin[0])
            logged = [call.name for call in self.calls.log]
            assert len(set(logged)) == len(logged)
            # A list.append() receiver shows that it ran in its list alone.
            ran = [s for s in to_call if s.name in logged or s.journal]
            self._check_calls(ran, value, kwargs, ordered=False)
        finally:
            self._clear_calls()

    # -- invariants -----------------------------------------------------------

    @invariant()
    def receivers_match_the_model(self) -> None:
        assert self.sig.is_muted == (self.depth > 0)
        assert len(self.sig.receivers) == len(self.receivers_in_model())
        assert self.sig._table.dead == []
        for slot in SENDER_SLOTS:
            expected = [s.receiver for s in self._expected(self._label(slot))]
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

    @invariant()
    def receivers_are_held_as_the_model_says(self) -> None:
        """Each receiver has one record, weak unless connected with weak=False."""
        held = [(record(), record.weak) for record in self.sig.receivers.values()]
        for state in self.receivers_in_model():
            receiver = state.receiver
            assert [weak for r, weak in held if r == receiver] == [not state.strong]

    def teardown(self) -> None:
        self.mutes.close()
        if self.watching:
            self.toggle_watching()
        for state in self.receivers_in_model():
            self.sig.disconnect(state.receiver)
        gc.collect()
        assert_no_bookkeeping(self.sig)


# ``--stress`` (``nox -s stress``) runs many more examples: it is read from the
# command line because Hypothesis settings are fixed when the module loads.
STRESS = "--stress" in sys.argv

SignalMachine.TestCase.settings = settings(
    max_examples=200 if STRESS else 60,
    stateful_step_count=40 if STRESS else 30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestSignalModel = pytest.mark.stress(SignalMachine.TestCase)
