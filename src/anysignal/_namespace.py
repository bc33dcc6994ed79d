"""Named signals and the namespaces that hold them."""

from __future__ import annotations

import typing as t

from ._signal import Signal

if t.TYPE_CHECKING:
    from collections.abc import Callable

    from ._typed import TypedSignal

P = t.ParamSpec("P")
R = t.TypeVar("R")


class NamedSignal(Signal):
    """A :class:`Signal` with a name, as made by :meth:`Namespace.signal`.

    :param name: The name of the signal.
    :param doc: The docstring of the signal.
    """

    def __init__(self, name: str, doc: str | None = None) -> None:
        super().__init__(doc)
        self.name = name
        """The name of this signal."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


class Namespace(dict[str, NamedSignal]):
    """A mapping of names to signals: the same name always gives the same signal.

    An extension keeps its signals in a namespace of its own, so that its names
    cannot clash with another extension's.
    """

    def signal(self, name: str, doc: str | None = None) -> NamedSignal:
        """Return the signal called ``name``, making it on first use.

        :param name: The name of the signal.
        :param doc: The docstring, used only when the signal is made.
        """
        try:
            return self[name]
        except KeyError:
            return self.setdefault(name, NamedSignal(name, doc))

    def typed_signal(self, stub: Callable[P, R]) -> TypedSignal[P, R]:
        """Return the typed signal named after ``stub``, making it on first use.

        As :func:`anysignal.typed_signal`, in this namespace: the stub's
        signature is the payload a type checker verifies, its name the
        signal's name, and its docstring the signal's docstring.

        :param stub: A function whose parameters are what receivers take (the
            sender first, positional-only) and whose return type is what they
            return.
        :raises TypeError: The name is already taken by an untyped signal.

        .. versionadded:: 0.1
        """
        from ._typed import TypedSignal  # noqa: PLC0415 - _typed imports this module

        name = stub.__name__
        signal = self.get(name) or self.setdefault(
            name, TypedSignal(name, stub.__doc__)
        )
        if not isinstance(signal, TypedSignal):
            msg = (
                f"{name!r} is already an untyped signal in this namespace: "
                "declare it with typed_signal() before any signal(name) call."
            )
            raise TypeError(msg)
        return t.cast("TypedSignal[P, R]", signal)


default_namespace: Namespace = Namespace()
"""The namespace that :func:`signal` uses."""


def signal(name: str, doc: str | None = None) -> NamedSignal:
    """Return the signal called ``name`` in :data:`default_namespace`.

    :param name: The name of the signal.
    :param doc: The docstring, used only when the signal is made.
    """
    return default_namespace.signal(name, doc)
