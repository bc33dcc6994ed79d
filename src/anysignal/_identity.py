"""Identity keys: how a receiver or sender known by identity is found again.

Most objects are known by their ``id()``. A bound method is not: each attribute
access (``button.clicked``, ``log.append``) makes a new method object, which dies
as soon as the expression that made it is done. A bound method is therefore
known by what it is bound to and what it calls, so that every fetch of it is the
same receiver or sender.
"""

from __future__ import annotations

from types import (
    BuiltinMethodType,
    FunctionType,
    MethodType,
    MethodWrapperType,
    ModuleType,
)

BOUND_METHOD_TYPES: frozenset[type] = frozenset(
    {MethodType, BuiltinMethodType, MethodWrapperType}
)
"""The types whose objects :func:`identity_key` does not key by ``id()``."""

# One str object per method name, kept for the life of the process: its id()
# then stands for the name in keys. Bounded by the names a program uses.
_NAMES: dict[str, str] = {}


def identity_key(obj: object) -> int:
    """Return the key that identifies ``obj`` by identity.

    A Python bound method is known by its instance and function, a bound method
    of a built-in type (``log.append``, ``obj.__len__``) by its instance and
    name; anything else, built-in functions of modules such as :func:`len`
    included, by its ``id()``.

    The two halves of a method's key are ``id()`` values, which fit in 64 bits;
    an instance's ``id()`` is never 0, so the packed int can never equal a plain
    ``id()``. The key stays unique only while both halves are alive: whoever
    keeps it holds the instance (strongly or weakly, see the callers) and the
    function, and names are kept alive by ``_NAMES``.
    """
    kind = type(obj)
    if kind is FunctionType:  # the most common receiver: one test, then its id()
        return id(obj)
    if kind is MethodType:
        return (id(obj.__self__) << 64) | id(obj.__func__)  # type: ignore[attr-defined]
    if kind is BuiltinMethodType or kind is MethodWrapperType:
        owner = obj.__self__  # type: ignore[attr-defined]
        if owner is not None and not isinstance(owner, ModuleType):
            name: str = obj.__name__  # type: ignore[attr-defined]
            return (id(owner) << 64) | id(_NAMES.setdefault(name, name))
    return id(obj)


def bound_to(obj: object) -> object | None:
    """Return the instance a bound method (of any kind) is bound to, else ``None``.

    A weakly held bound method is held through this instance: the method
    object itself dies at once.
    """
    if type(obj) in BOUND_METHOD_TYPES:
        owner: object = obj.__self__  # type: ignore[attr-defined]
        if not isinstance(owner, ModuleType):
            return owner
    return None
