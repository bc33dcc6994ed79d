"""How senders are told apart: the :data:`ANY` symbol and sender keys."""

from __future__ import annotations

import typing as t
import weakref
from collections.abc import Callable, Hashable

from ._identity import BOUND_METHOD_TYPES, bound_to, identity_key


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


def sender_key_of(sender: object) -> Hashable:
    """Return the key that identifies ``sender`` in a signal's tables.

    ``str`` and ``int`` senders match by value (as in blinker); everything else
    by identity (see :func:`identity_key`: a bound method is known by its
    instance and function). Value keys are the string itself or a one-item tuple
    for an int, so that an int's value can never be mistaken for some object's
    ``id()``. ``bool`` is matched by identity, so ``False`` and ``0`` stay
    distinct.
    """
    kind = type(sender)
    if kind is str:
        return sender
    if kind is int:
        return (sender,)
    return identity_key(sender)


NOT_KEYED_BY_ID: frozenset[type] = frozenset({str, int, *BOUND_METHOD_TYPES})
"""The sender types whose key is not their ``id()``: a send may skip calling
:func:`sender_key_of` for every other type."""


class SenderRef(weakref.ref[t.Any]):
    """A weak reference to a sender, carrying the key its subscriptions use.

    For a bound method sender, it refers to the method's instance, and holds
    its function (``anchor``): the key is made of both ``id()`` values.
    """

    __slots__ = ("anchor", "key")
    key: Hashable
    anchor: object

    def __new__(
        cls,
        sender: object,
        callback: Callable[[SenderRef], object],
        key: Hashable,
        anchor: object = None,
    ) -> SenderRef:
        self = super().__new__(cls, sender, callback)
        self.key = key
        self.anchor = anchor
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
    ``id()`` then cannot be reused while it has subscriptions. A bound method
    is held through its instance, weakly if it can be, as its key says (a
    temporary method object would die at once). Value-matched senders
    (``str``, ``int``) need no holding: ``None`` is returned.
    """
    if not isinstance(key, int):
        return None
    owner = bound_to(sender)
    try:
        if owner is None:
            return SenderRef(sender, callback, key)
        return SenderRef(owner, callback, key, getattr(sender, "__func__", None))
    except TypeError:
        return sender
