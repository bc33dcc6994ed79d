"""The send loops, compiled once per set of keyword argument names.

Why: ``receiver(sender, **kwargs)`` makes CPython unpack the dict into a fresh
argument array and a fresh tuple of names at every call, which doubles the cost
of calling a small receiver. A call written as ``receiver(sender, user=v0)``
passes a constant tuple of names instead. So, for each distinct tuple of keyword
names a signal is sent with, the loop below is compiled once with those names
written into its calls, and reused by every signal.

Only valid identifiers are ever written into the source (they are checked
first), so no caller-supplied text can change what the code does. Names that
are not identifiers, and any set of names past :data:`_MAX_LOOPS`, fall back to
the same loop written with ``**kwargs``.

The loops' rules are :meth:`Signal.send`'s: receivers in snapshot order; a dead
receiver (``get()`` is ``None``) is skipped; once the signal's connections have
changed since the snapshot was taken (``signal._generation`` moved past
``dispatch.generation``), each receiver left is checked to be still connected
before it is called.
"""

from __future__ import annotations

import keyword
import typing as t
from collections.abc import Callable, Coroutine

if t.TYPE_CHECKING:
    from types import TracebackType

SendLoop: t.TypeAlias = Callable[..., list[tuple[t.Any, t.Any]]]
"""``loop(dispatch, sender, kwargs, signal, wrapper) -> results``."""

AsyncSendLoop: t.TypeAlias = Callable[
    ..., Coroutine[t.Any, t.Any, list[tuple[t.Any, t.Any]]]
]
"""The same, as a coroutine function."""

_MAX_LOOPS = 256
"""Distinct sets of keyword names compiled before falling back to ``**kwargs``."""

_SYNC_TEMPLATE = """\
def send(dispatch, sender, kwargs, signal, async_wrapper):
{unpack}    generation = dispatch.generation
    results = []
    for get, is_async in dispatch.pairs:
        receiver = get()
        if receiver is None or (
            signal._generation != generation
            and not signal._still_connected(receiver, sender, dispatch)
        ):
            continue
        if is_async:
            results.append((receiver, async_wrapper(receiver)(sender{args})))
        else:
            results.append((receiver, receiver(sender{args})))
    return results
"""

_ASYNC_TEMPLATE = """\
async def send_async(dispatch, sender, kwargs, signal, sync_wrapper):
{unpack}    generation = dispatch.generation
    results = []
    for get, is_async in dispatch.pairs:
        receiver = get()
        if receiver is None or (
            signal._generation != generation
            and not signal._still_connected(receiver, sender, dispatch)
        ):
            continue
        if is_async:
            result = await receiver(sender{args})
        elif sync_wrapper is None:
            result = receiver(sender{args})
        else:
            result = await sync_wrapper(receiver)(sender{args})
        results.append((receiver, result))
    return results
"""

_GENERIC = ("**",)
"""The key of the loop that passes ``**kwargs``; never a tuple of real names."""

SYNC_LOOPS: dict[tuple[str, ...], SendLoop] = {}
"""Compiled sync loops by keyword names; :meth:`Signal.send` reads it directly."""

ASYNC_LOOPS: dict[tuple[str, ...], AsyncSendLoop] = {}
"""Compiled async loops by keyword names; :meth:`Signal.send_async` reads it."""


def sync_loop(names: tuple[str, ...]) -> SendLoop:
    """Return the sync send loop for keyword ``names``, compiling it if needed."""
    return _loop(SYNC_LOOPS, _SYNC_TEMPLATE, "send", names)


def async_loop(names: tuple[str, ...]) -> AsyncSendLoop:
    """Return the async send loop for keyword ``names``, compiling it if needed."""
    return _loop(ASYNC_LOOPS, _ASYNC_TEMPLATE, "send_async", names)


L = t.TypeVar("L", SendLoop, AsyncSendLoop)


def _loop(
    cache: dict[tuple[str, ...], L],
    template: str,
    name: str,
    names: tuple[str, ...],
) -> L:
    loop = cache.get(names)
    if loop is not None:
        return loop
    if names != _GENERIC and (
        len(cache) >= _MAX_LOOPS or not all(map(_is_plain_name, names))
    ):
        # Not cached under ``names``: the generic loop serves any names.
        return _loop(cache, template, name, _GENERIC)
    if names == _GENERIC:
        unpack, args = "", ", **kwargs"
    else:
        unpack = "".join(f"    v{i} = kwargs[{n!r}]\n" for i, n in enumerate(names))
        args = "".join(f", {n}=v{i}" for i, n in enumerate(names))
    source = template.format(unpack=unpack, args=args)
    namespace: dict[str, t.Any] = {}
    exec(compile(source, f"<anysignal {name} loop>", "exec"), namespace)
    # Racing threads may both compile: either result is correct, one is kept.
    return cache.setdefault(names, namespace[name])


def _is_plain_name(name: str) -> bool:
    return name.isidentifier() and not keyword.iskeyword(name)


def hide_loop_frame(traceback: TracebackType | None) -> None:
    """Unlink the loop's frame from a traceback that starts at ``send``.

    A receiver's traceback then reads ``send`` -> receiver, as if ``send`` had
    called it directly: the loop is machinery, not something a user debugs.
    A traceback that ends in the loop itself is left whole.
    """
    if traceback is None:  # pragma: no cover - a raised exception has one
        return
    loop_frame = traceback.tb_next
    if loop_frame is not None and loop_frame.tb_next is not None:
        traceback.tb_next = loop_frame.tb_next
