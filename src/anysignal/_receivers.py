"""Receiver records: how a connected receiver is held, identified and reached.

Each connected receiver has exactly one record in :attr:`Signal.receivers`,
whatever the number of senders it is connected to. Calling a record returns the
receiver, or ``None`` once a weakly held receiver has died; that one call is all
:meth:`Signal.send` does per receiver before calling it.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import itertools
import sys
import typing as t
import weakref
from collections.abc import Awaitable, Callable, Coroutine, Hashable
from types import (
    BuiltinMethodType,
    FunctionType,
    MethodType,
    MethodWrapperType,
    ModuleType,
)

from ._senders import ANY_KEY

Receiver: t.TypeAlias = Callable[..., t.Any]

AsyncWrapper: t.TypeAlias = Callable[
    [Callable[..., Coroutine[t.Any, t.Any, t.Any]]], Receiver
]
"""Turns a coroutine receiver into a sync callable, e.g. Flask's ``ensure_sync``."""

SyncWrapper: t.TypeAlias = Callable[[Receiver], Callable[..., Awaitable[t.Any]]]
"""Turns a sync receiver into a coroutine function, e.g. Quart's ``ensure_async``."""

Senders: t.TypeAlias = tuple[Hashable, ...] | dict[Hashable, None]
"""A record's sender keys, in connection order.

The shared tuple :data:`ANY_ONLY` while the receiver is connected for ANY only,
as most are, which costs no memory of its own; else a dict (ordered, with O(1)
add and remove), so that one receiver connected to many senders costs the same
per sender as one connected to a few.
"""

ANY_ONLY: tuple[Hashable, ...] = (ANY_KEY,)


def with_sender(senders: Senders, sender_key: Hashable) -> Senders:
    """Return ``senders`` with ``sender_key`` added last (in place, for a dict)."""
    if type(senders) is dict:
        senders[sender_key] = None
        return senders
    return dict.fromkeys((*senders, sender_key))


def without_senders(senders: Senders, sender_keys: t.Iterable[Hashable]) -> Senders:
    """Return ``senders`` without ``sender_keys`` (in place, for a dict)."""
    if type(senders) is dict:
        for sender_key in sender_keys:
            senders.pop(sender_key, None)
        return senders
    return tuple(sender_key for sender_key in senders if sender_key not in sender_keys)


def is_async_callable(receiver: Receiver) -> bool:
    """Tell whether calling ``receiver`` returns an awaitable to be awaited.

    True for ``async def`` functions and bound methods, for
    :func:`functools.partial` objects over one, for functions marked with
    :func:`inspect.markcoroutinefunction` (or asyncio's marker on Python 3.11),
    and for objects whose class defines ``async def __call__``.
    """
    func = receiver.__func__ if type(receiver) is MethodType else receiver
    if type(func) is FunctionType and not func.__dict__:
        # The common case, decided without inspect (see Performance): a function
        # without attributes carries no coroutine marker, so its code says all.
        return func.__code__.co_flags & _CO_COROUTINE != 0
    while isinstance(receiver, functools.partial):
        receiver = receiver.func
    if _is_coroutine_function(receiver):
        return True
    # Checked first as the common case: ``inspect.isroutine`` is slow.
    if isinstance(receiver, _ROUTINES) or inspect.isroutine(receiver):
        return False
    return _is_coroutine_function(getattr(receiver, "__call__", None))  # noqa: B004


_ROUTINES = (FunctionType, MethodType, type)
_CO_COROUTINE = inspect.CO_COROUTINE

# Bound methods of C types: like MethodType objects they are made at each
# attribute access, but they cannot be re-bound from a weakly held instance.
_TEMPORARY_METHODS = (BuiltinMethodType, MethodWrapperType)

if sys.version_info >= (3, 12):
    _is_coroutine_function = inspect.iscoroutinefunction
else:  # pragma: no cover - exercised by the 3.11 test run only
    # Before 3.12, asgiref and others mark coroutine functions the asyncio way,
    # which asyncio's check honours on top of inspect's.
    _is_coroutine_function = asyncio.iscoroutinefunction


class ReceiverRecord(t.Protocol):
    """What every record offers to the signal that owns it."""

    key: int
    is_async: bool
    senders: Senders
    """The sender keys this receiver is connected to, in connection order."""

    @property
    def weak(self) -> bool: ...

    def __call__(self) -> Receiver | None: ...

    def getter(self) -> Callable[[], Receiver | None]:
        """Return the fastest callable that gives the receiver (or ``None``)."""
        ...


class WeakReceiver(weakref.ref[t.Any]):
    """A weakly held function (or other weakly referenceable callable).

    Calling it is the C-level ``weakref.ref`` call: as fast as a lookup gets.
    Made by :func:`make_record`, which sets the attributes after construction:
    a Python-level ``__new__`` would slow every connect (see Performance).
    """

    __slots__ = ("is_async", "key", "senders")
    weak = True
    key: int
    is_async: bool
    senders: Senders

    def getter(self) -> Callable[[], Receiver | None]:
        return self


class WeakMethodReceiver(WeakReceiver):
    """A weakly held bound method: its instance weakly, its function strongly.

    A bound method object dies as soon as the expression that made it is done,
    so the record refers to the instance instead, and calling the record binds
    the method afresh. The function is held strongly: it belongs to a class, which
    outlives its instances, and holding it keeps the key's second half unique.
    """

    __slots__ = ("func",)
    func: Callable[..., t.Any]

    def __call__(self) -> Receiver | None:
        instance = weakref.ref.__call__(self)
        if instance is None:
            return None
        return MethodType(self.func, instance)


class StrongReceiver:
    """A strongly held receiver: connected until it is disconnected."""

    __slots__ = ("is_async", "key", "receiver", "senders")
    weak = False

    def __init__(self, receiver: Receiver, key: int, is_async: bool) -> None:
        self.receiver = receiver
        self.key = key
        self.is_async = is_async
        self.senders: Senders = ()

    def __call__(self) -> Receiver:
        return self.receiver

    def getter(self) -> Callable[[], Receiver]:
        # ``repeat(x).__next__`` is a C-level callable that returns ``x``: cheaper
        # to call than a Python-level ``__call__`` like the one above.
        return itertools.repeat(self.receiver).__next__


def make_record(
    receiver: Receiver, key: int, weak: bool, callback: Callable[[t.Any], object]
) -> ReceiverRecord:
    """Make the record for ``receiver``, weak or strong.

    Its arguments are passed positionally, and functions and methods skip the
    check that only other callables need: connect+disconnect is measured
    against the peers, and each keyword argument or test adds to it.

    :raises TypeError: ``receiver`` cannot be held weakly; the message says to
        pass ``weak=False``.
    """
    is_async = is_async_callable(receiver)
    if not weak:
        return StrongReceiver(receiver, key, is_async)
    kind = type(receiver)
    if kind is not FunctionType and kind is not MethodType:
        _refuse_temporary_method(receiver)
    record: WeakReceiver
    try:
        if type(receiver) is MethodType:  # ``kind`` would not narrow for mypy
            record = WeakMethodReceiver(receiver.__self__, callback)
            record.func = receiver.__func__
        else:
            record = WeakReceiver(receiver, callback)
    except TypeError:
        msg = (
            f"cannot hold receiver {receiver!r} weakly: its type does not support "
            "weak references. Connect it with weak=False to hold it strongly "
            "(it then stays connected until you disconnect it)."
        )
        raise TypeError(msg) from None
    record.key = key
    record.is_async = is_async
    record.senders = ()
    return record


def _refuse_temporary_method(receiver: Receiver) -> None:
    """Refuse a bound method of a built-in type: a weak reference to it dies at once."""
    if type(receiver) in _TEMPORARY_METHODS and not isinstance(
        getattr(receiver, "__self__", None), ModuleType
    ):
        msg = (
            f"cannot hold receiver {receiver!r} weakly: a method of a built-in "
            "type is a new object at each access, so a weak reference to it "
            "would die at once. Connect it with weak=False to hold it strongly "
            "(it then stays connected until you disconnect it)."
        )
        raise TypeError(msg)
