"""How senders are told apart: the :data:`ANY` symbol and sender keys."""

from __future__ import annotations

import typing as t
import weakref
from collections.abc import Callable, Hashable


class _AnySender:
    """The type of :data:`ANY`: one instance, shown as ``ANY``."""

    __slots__ = ()
    _instance: t.ClassVar[_AnySender | None] = None

    def __new__(cls) -> _AnySender:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ANY"

    def __reduce__(self) -> str:
        return "ANY"


ANY: t.Final = _AnySender()
"""Connect to :data:`ANY` to receive a signal whatever its sender."""

ANY_KEY: t.Final = id(ANY)
"""The sender key of :data:`ANY`. ``ANY`` lives as long as the module, so its
``id()`` is never reused."""


def sender_key(sender: object) -> Hashable:
    """Return the key that identifies ``sender`` in a signal's tables.

    ``str`` and ``int`` senders match by value (as in blinker), everything else
    by identity. Value keys are the string itself or a one-item tuple for an int,
    so that an int's value can never be mistaken for some object's ``id()``.
    ``bool`` is matched by identity, so ``False`` and ``0`` stay distinct.

    :meth:`Signal.send` inlines this logic on its hot path; keep the two equal.
    """
    kind = type(sender)
    if kind is str:
        return sender
    if kind is int:
        return (sender,)
    return id(sender)


class SenderRef(weakref.ref[t.Any]):
    """A weak reference to a sender, carrying the key its subscriptions use."""

    __slots__ = ("key",)
    key: Hashable

    def __new__(
        cls, sender: object, callback: Callable[[SenderRef], object], key: Hashable
    ) -> SenderRef:
        self = super().__new__(cls, sender, callback)
        self.key = key
        return self

    def __init__(self, *args: object) -> None:
        # weakref.ref.__init__ would refuse the extra key argument; __new__ did it all.
        pass


def hold_sender(
    sender: object, key: Hashable, callback: Callable[[SenderRef], object]
) -> object:
    """Return what keeps ``sender``'s subscriptions honest while they exist.

    A sender matched by identity is held weakly, so that its death removes its
    subscriptions (through ``callback``) before its ``id()`` can be reused. A
    sender that cannot be weakly referenced is held strongly instead: its
    ``id()`` then cannot be reused while it has subscriptions. Value-matched
    senders (``str``, ``int``) need no holding: ``None`` is returned.
    """
    if not isinstance(key, int):
        return None
    try:
        return SenderRef(sender, callback, key)
    except TypeError:
        return sender
