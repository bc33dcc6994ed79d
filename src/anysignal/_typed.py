"""Typed signals: a payload declared once, checked by mypy and pyright.

A :class:`TypedSignal` is a :class:`NamedSignal` at runtime, with nothing added
or overridden: its sends cost exactly what a plain signal's do. The types live
in the ``if TYPE_CHECKING`` block below, which only type checkers read.
"""

from __future__ import annotations

import typing as t
from collections.abc import Awaitable, Callable

from ._namespace import NamedSignal
from ._senders import ANY

P = t.ParamSpec("P")
R = t.TypeVar("R")

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
        # Narrower signatures than Signal's, for type checkers only. The
        # ``_async_wrapper``/``_sync_wrapper`` options are not part of them:
        # a ParamSpec's ``**kwargs`` admits no other keyword; the framework
        # adapters pass them for you.

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

        def send(
            self, *args: P.args, **kwargs: P.kwargs
        ) -> list[tuple[TypedReceiver[P, R], R]]: ...

        async def send_async(
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
