"""Named signals, typed or not, and the namespaces that hold them.

A :class:`TypedSignal` is a :class:`NamedSignal` at runtime, with nothing added
or overridden: its sends cost exactly what a plain signal's do. Its types live
in an ``if TYPE_CHECKING`` block, which only type checkers read.
"""

from __future__ import annotations

import typing as t
import weakref
from collections.abc import Awaitable, Callable

from ._senders import ANY
from ._signal import Signal

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


TypedReceiver: t.TypeAlias = Callable[P, R] | Callable[P, Awaitable[R]]
"""A receiver of a ``TypedSignal[P, R]``: sync or async, taking ``P``."""


class TypedSignal(NamedSignal, t.Generic[P, R]):
    """A :class:`NamedSignal` whose payload a type checker verifies.

    ``P`` is the signature every receiver must accept and every send must
    match, sender included; ``R`` is what each receiver returns. Declare one
    from a stub function with :func:`typed_signal` or
    :meth:`Namespace.typed_signal`; see :doc:`/typing`.

    .. versionadded:: 0.1
    """

    if t.TYPE_CHECKING:
        # Narrower signatures than Signal's, for type checkers only. The send
        # options (``_async_wrapper``, ``_raise_group``...) are not part of
        # them: no keyword parameter may stand between a ParamSpec's ``*args``
        # and ``**kwargs``. The framework adapters pass the wrappers for you.

        def connect(  # type: ignore[override]
            self,
            receiver: TypedReceiver[P, R],
            sender: t.Any = ANY,
            weak: bool = True,
            *,
            priority: int = 0,
        ) -> TypedReceiver[P, R]: ...

        def connect_via(  # type: ignore[override]
            self, sender: t.Any, weak: bool = False, *, priority: int = 0
        ) -> Callable[[TypedReceiver[P, R]], TypedReceiver[P, R]]: ...

        def send(  # type: ignore[override]
            self, *args: P.args, **kwargs: P.kwargs
        ) -> list[tuple[TypedReceiver[P, R], R]]: ...

        async def send_async(  # type: ignore[override]
            self, *args: P.args, **kwargs: P.kwargs
        ) -> list[tuple[TypedReceiver[P, R], R]]: ...

        def send_robust(  # type: ignore[override]
            self, *args: P.args, **kwargs: P.kwargs
        ) -> list[tuple[TypedReceiver[P, R], R | Exception]]: ...

        async def send_async_robust(  # type: ignore[override]
            self, *args: P.args, **kwargs: P.kwargs
        ) -> list[tuple[TypedReceiver[P, R], R | Exception]]: ...

        async def send_concurrent(  # type: ignore[override]
            self, *args: P.args, **kwargs: P.kwargs
        ) -> list[tuple[TypedReceiver[P, R], R]]: ...


class Namespace(dict[str, NamedSignal]):
    """A mapping of names to signals: the same name always gives the same signal.

    An extension keeps its signals in a namespace of its own, so that its names
    cannot clash with another extension's.
    """

    def __new__(cls, *args: t.Any, **kwargs: t.Any) -> t.Self:
        self = super().__new__(cls, *args, **kwargs)
        # Known weakly, for anysignal.introspection.namespaces() and the CLI.
        _NAMESPACES[id(self)] = self
        return self

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


_NAMESPACES: weakref.WeakValueDictionary[int, Namespace] = weakref.WeakValueDictionary()
"""Every live namespace, by ``id()``, oldest first. (A dict is not hashable,
so a WeakSet cannot hold one.)"""


def live_namespaces() -> list[Namespace]:
    """Return every namespace that exists now, oldest first."""
    return list(_NAMESPACES.values())


default_namespace: Namespace = Namespace()
"""The namespace that :func:`signal` uses."""


def signal(name: str, doc: str | None = None) -> NamedSignal:
    """Return the signal called ``name`` in :data:`default_namespace`.

    :param name: The name of the signal.
    :param doc: The docstring, used only when the signal is made.
    """
    return default_namespace.signal(name, doc)


def typed_signal(stub: Callable[P, R]) -> TypedSignal[P, R]:
    """Make a :class:`TypedSignal` from a stub function's signature.

    The stub's name becomes the signal's name and its docstring the signal's;
    its body never runs::

        @typed_signal
        def user_logged_in(sender: Flask, /, *, user: User) -> None:
            \"\"\"Sent after a user logs in.\"\"\"

    The signal belongs to no namespace; :meth:`Namespace.typed_signal` makes
    one in a namespace.

    :param stub: A function whose parameters are what receivers take (the
        sender first, positional-only) and whose return type is what they
        return.
    """
    return TypedSignal(stub.__name__, stub.__doc__)
