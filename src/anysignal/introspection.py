"""See what is connected: receivers in call order, with where they come from.

:func:`describe` answers "why did my receiver not run?" and "in what order do
these run?" for one signal: every receiver a send would call, in the order it
would call them, with its qualified name, source file and line, kind (sync,
async or inline), how it is held, its priority and the senders it is connected
for. :func:`describe_namespace` does the same for every signal of a
:class:`~anysignal.Namespace`, and :func:`namespaces` finds every namespace in
the process (the ``signals`` command of :doc:`/introspection` lists them all).

What these functions return is plain data, made of strings and numbers: it
never keeps a receiver or a sender alive. Each listing is a snapshot: the
signal's connections are copied under its lock, in one go, so a listing made
while other threads connect and disconnect shows the connections as they were
at one moment.

.. versionadded:: 0.1
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing as t
from types import FunctionType, MethodType

from ._errors import reentered_error
from ._namespace import NamedSignal, Namespace, live_namespaces
from ._receivers import ANY_ONLY
from ._senders import ANY, ANY_KEY, SenderRef, sender_key_of
from .framework import is_inline

if t.TYPE_CHECKING:
    from collections.abc import Callable, Hashable

    from ._receivers import Receiver, ReceiverRecord
    from ._signal import Signal

__all__ = [
    "ALL_SENDERS",
    "Connection",
    "ReceiverInfo",
    "SignalInfo",
    "describe",
    "describe_namespace",
    "namespaces",
]

Kind: t.TypeAlias = t.Literal["sync", "async", "inline"]


class _AllSenders:
    __slots__ = ()

    def __repr__(self) -> str:
        return "ALL_SENDERS"


ALL_SENDERS: t.Final = _AllSenders()
"""Pass as ``sender`` to list every receiver, whatever it is connected for."""

_REPR_LIMIT = 80


@dataclasses.dataclass(frozen=True)
class Connection:
    """One subscription of a receiver: to which sender, with which priority."""

    sender: str
    """The sender, described: ``"ANY"``, or the sender's repr (shortened)."""
    priority: int
    """The priority this subscription was connected with."""


@dataclasses.dataclass(frozen=True)
class ReceiverInfo:
    """One connected receiver, described."""

    name: str
    """Its qualified name, such as ``"myext.receivers.write_row"``."""
    file: str | None
    """The source file it is defined in; ``None`` for a built-in function."""
    line: int | None
    """The first line of its definition in :attr:`file`, decorators included
    (as tracebacks and :func:`inspect.getsourcelines` count it)."""
    kind: Kind
    """``"async"`` for a coroutine receiver, ``"inline"`` for a sync receiver
    marked with :func:`anysignal.framework.inline`, else ``"sync"``."""
    weak: bool
    """Whether the signal holds it weakly."""
    priority: int
    """The priority of the subscription that places it in this listing."""
    connections: tuple[Connection, ...]
    """Every subscription it has, in the order they were made."""

    @property
    def senders(self) -> tuple[str, ...]:
        """The senders it is connected for, described, in connection order."""
        return tuple(connection.sender for connection in self.connections)


@dataclasses.dataclass(frozen=True)
class SignalInfo:
    """A signal's receivers, in call order, at one moment."""

    name: str
    """The signal's name, or its repr for a signal without one."""
    doc: str | None
    """The signal's docstring."""
    muted: bool
    """Whether a :meth:`~anysignal.Signal.muted` block was active: if so, a
    send would call none of the receivers."""
    sender: str | None
    """The sender the listing is for, described; ``None`` for every sender."""
    receivers: tuple[ReceiverInfo, ...]
    """For one sender: what a send by it would call, in that order. For every
    sender: each receiver once, at its best place across its subscriptions
    (highest priority, then earliest connection)."""


def describe(signal: Signal, sender: object = ALL_SENDERS) -> SignalInfo:
    """Describe the receivers of ``signal``, in the order a send would call them.

    :param signal: The signal to describe.
    :param sender: List what a send by ``sender`` would call, in that order:
        the receivers connected for it and for :data:`~anysignal.ANY`.
        :data:`~anysignal.ANY` lists the receivers connected for ``ANY`` only,
        as :meth:`~anysignal.Signal.receivers_for` does. By default,
        :data:`ALL_SENDERS`: every receiver, whatever its senders.
    """
    if signal._held():  # a finalizer, run in the middle of a change: see there
        raise reentered_error(signal, "describe")
    if sender is ALL_SENDERS:
        sender_keys = None
    elif sender is ANY:
        sender_keys = ANY_ONLY
    else:
        sender_keys = (ANY_KEY, sender_key_of(sender))
    table = signal._table
    with signal._lock:  # one consistent copy; nothing runs under it
        if table.dead:
            table.collect_dead()
        order = table.call_order(
            table.by_sender if sender_keys is None else sender_keys
        )
        copied = [
            (
                table.receivers[receiver_key],
                priority,
                tuple(
                    (key, table.priorities.get((key, receiver_key), 0))
                    for key in table.receivers[receiver_key].senders
                ),
            )
            for receiver_key, priority in order
        ]
        holders = dict(table.held)
        muted = signal.is_muted
    receivers = []
    for record, priority, subscriptions in copied:
        info = _describe_receiver(record, priority, subscriptions, holders)
        if info is not None:  # None: it died meanwhile, and no send calls it
            receivers.append(info)
    return SignalInfo(
        name=signal.name if isinstance(signal, NamedSignal) else repr(signal),
        doc=signal.__doc__ if "__doc__" in vars(signal) else None,
        muted=muted,
        sender=None if sender is ALL_SENDERS else _short_repr(sender),
        receivers=tuple(receivers),
    )


def describe_namespace(
    namespace: Namespace, sender: object = ALL_SENDERS
) -> tuple[SignalInfo, ...]:
    """Describe every signal of ``namespace``, in the order they were made.

    :param namespace: The namespace whose signals to describe.
    :param sender: As for :func:`describe`.
    """
    return tuple(describe(signal, sender) for signal in list(namespace.values()))


def namespaces() -> list[Namespace]:
    """Return every :class:`~anysignal.Namespace` that exists, oldest first.

    That is the namespace of every extension whose module was imported, the
    :data:`~anysignal.default_namespace` and the neutral built-in signals of
    :mod:`anysignal.framework` (once imported) included. Namespaces are known
    weakly: one that was garbage collected is not listed.
    """
    return live_namespaces()


def _describe_receiver(
    record: ReceiverRecord,
    priority: int,
    subscriptions: tuple[tuple[Hashable, int], ...],
    holders: dict[Hashable, object],
) -> ReceiverInfo | None:
    receiver = record()  # a strong reference, dropped when this returns
    if receiver is None:
        return None
    file, line = _source(receiver)
    kind: Kind = (
        "async" if record.is_async else "inline" if is_inline(receiver) else "sync"
    )
    connections = []
    for sender_key, subscription_priority in subscriptions:
        sender = _describe_sender(sender_key, holders.get(sender_key))
        if sender is not None:  # None: the sender died, its subscriptions go
            connections.append(Connection(sender, subscription_priority))
    return ReceiverInfo(
        name=_qualified_name(receiver),
        file=file,
        line=line,
        kind=kind,
        weak=record.weak,
        priority=priority,
        connections=tuple(connections),
    )


def _describe_sender(sender_key: Hashable, holder: object) -> str | None:
    """Describe the sender of ``sender_key``; ``None`` once it has died."""
    sender: object
    if sender_key == ANY_KEY:
        return "ANY"
    if not isinstance(sender_key, int):  # a str sender, or an int one in a tuple
        sender = sender_key if isinstance(sender_key, str) else sender_key[0]  # type: ignore[index]
    elif not isinstance(holder, SenderRef):  # held strongly: it cannot weakref
        sender = holder
    else:
        sender = holder()
        if sender is None:
            return None
        if holder.anchor is not None:  # a bound method, held through its instance
            sender = MethodType(t.cast("Callable[..., t.Any]", holder.anchor), sender)
    return _short_repr(sender)


def _short_repr(obj: object) -> str:
    try:
        text = repr(obj)
    except Exception:
        text = f"<{type(obj).__qualname__} object at {id(obj):#x}>"
    return text if len(text) <= _REPR_LIMIT else text[: _REPR_LIMIT - 3] + "..."


def _definition(receiver: object) -> object:
    """Return what defines ``receiver``: its function, unwrapped, when it has one."""
    target: object = receiver
    while True:
        if type(target) is MethodType:
            target = target.__func__
        elif isinstance(target, functools.partial):
            target = target.func
        else:
            break
    if isinstance(target, FunctionType):
        return inspect.unwrap(target)
    return target


def _qualified_name(receiver: Receiver) -> str:
    target = _definition(receiver)
    if isinstance(target, FunctionType) or inspect.isbuiltin(target):
        name = f"{target.__module__ or 'builtins'}.{target.__qualname__}"
    else:  # a callable object: named by its class
        name = f"{type(target).__module__}.{type(target).__qualname__}()"
    return (
        f"functools.partial({name})"
        if isinstance(receiver, functools.partial)
        else name
    )


def _source(receiver: Receiver) -> tuple[str | None, int | None]:
    target = _definition(receiver)
    if not isinstance(target, FunctionType):  # a callable object: its __call__
        target = _definition(getattr(type(target), "__call__", None))  # noqa: B004
    if not isinstance(target, FunctionType):
        return None, None  # a built-in: no Python source
    code = target.__code__
    return code.co_filename, code.co_firstlineno
