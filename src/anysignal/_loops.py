"""The send loops, compiled once per set of keyword argument names.

Why: ``receiver(sender, **kwargs)`` makes CPython unpack the dict into a fresh
argument array and a fresh tuple of names at every call, which doubles the cost
of calling a small receiver. A call written as ``receiver(sender, user=v0)``
passes a constant tuple of names instead. So, for each distinct tuple of keyword
names a signal is sent with, each kind of loop below is compiled once with those
names written into its calls, and reused by every signal.

The send method's own option (``_async_wrapper`` for the sync loops,
``_sync_wrapper`` for the async ones) travels in ``kwargs`` too, so that the
send methods need no keyword parameter for it: binding one costs every send,
even a send with no receivers, a tenth of its time. Its name is known when a
loop is compiled, so the loop reads it out of ``kwargs`` and never passes it on.

Only valid identifiers are ever written into the source (they are checked
first), so no caller-supplied text can change what the code does. Names that
are not identifiers, and any set of names past :data:`_MAX_LOOPS`, fall back to
the same loop written with ``**kwargs``.

The loops' rules are :meth:`Signal.send`'s: receivers in snapshot order, and a
receiver whose getter gives ``None`` is skipped: it died, or (after a change of
connections during the send, see :mod:`anysignal._dispatch`) it is no longer
connected. Robust loops also turn a receiver's ``Exception`` into its result,
and note it in ``failures``.
"""

from __future__ import annotations

import keyword
import textwrap
import typing as t
from collections.abc import Callable, Coroutine

if t.TYPE_CHECKING:
    from types import TracebackType

SendLoop: t.TypeAlias = Callable[..., list[tuple[t.Any, t.Any]]]
"""``loop(dispatch, sender, kwargs[, failures]) -> results``."""

AsyncSendLoop: t.TypeAlias = Callable[
    ..., Coroutine[t.Any, t.Any, list[tuple[t.Any, t.Any]]]
]
"""The same, as a coroutine function."""

L = t.TypeVar("L", SendLoop, AsyncSendLoop)

_MAX_LOOPS = 256
"""Distinct sets of keyword names compiled per kind of loop before falling back
to ``**kwargs``."""

_GENERIC = ("**",)
"""The key of the loop that passes ``**kwargs``; never a tuple of real names."""

# The source of a loop, in parts. Every loop shares the head and the tail: the
# snapshot order, and the skipping of receivers whose getter gives None.
# A "uniform" loop serves a snapshot whose receivers are all called the same
# way (all sync for a sync send, all coroutine receivers for an async one), so
# it needs no per-receiver flag: the common case pays for no branch.
_HEAD = """\
{async_}def {name}(dispatch, sender, kwargs{failures}):
{unpack}    results = []
    for {item} in {items}:
        receiver = get()
        if receiver is None:
            continue
"""
_UNIFORM_ITEMS = ("get", "dispatch.getters")
_MIXED_ITEMS = ("get, is_async", "zip(dispatch.getters, dispatch.flags)")
_CALLS = {
    # (async loop, mixed snapshot): how one receiver is called
    (False, False): "result = receiver(sender{args})\n",
    (True, False): "result = await receiver(sender{args})\n",
    (False, True): """\
if is_async:
    result = wrapper(receiver)(sender{args})
else:
    result = receiver(sender{args})
""",
    (True, True): """\
if is_async:
    result = await receiver(sender{args})
elif wrapper is None:
    result = receiver(sender{args})
else:
    result = await wrapper(receiver)(sender{args})
""",
}
# Robust loops catch Exception only: cancellation, KeyboardInterrupt and
# SystemExit must still stop the send.
_ROBUST_CALL = """\
try:
{call}except Exception as exc:
    result = exc
    failures.append((receiver, exc))
"""
_TAIL = """\
        results.append((receiver, result))
    return results
"""


class LoopKind(t.Generic[L]):
    """One kind of send loop (sync or async, robust or not), compiled per names.

    ``uniform`` and ``mixed`` (see above) are read directly by the hot path:
    ``kind.uniform.get(names) or kind.loop(names, mixed=False)`` costs one dict
    lookup once the loop exists.
    """

    __slots__ = ("is_async", "mixed", "name", "option", "robust", "uniform")

    def __init__(self, name: str, *, is_async: bool, robust: bool) -> None:
        self.name = name
        self.is_async = is_async
        self.robust = robust
        self.option = "_sync_wrapper" if is_async else "_async_wrapper"
        """The keyword that carries the wrapper, which receivers never get."""
        self.uniform: dict[tuple[str, ...], L] = {}
        self.mixed: dict[tuple[str, ...], L] = {}

    def loop(self, names: tuple[str, ...], *, mixed: bool) -> L:
        """Return the loop for keyword ``names``, compiling it if needed."""
        loops = self.mixed if mixed else self.uniform
        loop = loops.get(names)
        if loop is not None:
            return loop
        if names != _GENERIC and (
            len(loops) >= _MAX_LOOPS or not all(map(_is_plain_name, names))
        ):
            # Not cached under ``names``: the generic loop serves any names.
            return self.loop(_GENERIC, mixed=mixed)
        namespace: dict[str, t.Any] = {}
        source = self.source(names, mixed=mixed)
        exec(compile(source, f"<anysignal {self.name} loop>", "exec"), namespace)
        # Racing threads may both compile: either result is correct, one is kept.
        return loops.setdefault(names, namespace[self.name])

    def source(self, names: tuple[str, ...], *, mixed: bool) -> str:
        """Return the source of the loop for keyword ``names``."""
        if names == _GENERIC:
            # A copy: the send's own dict is left as it was.
            unpack = (
                "    kwargs = dict(kwargs)\n"
                f"    wrapper = kwargs.pop({self.option!r}, None)\n"
            )
            args = ", **kwargs"
        else:
            # Only mixed loops call the wrapper: uniform ones need not read it.
            wrapper = f"kwargs[{self.option!r}]" if self.option in names else "None"
            unpack = (f"    wrapper = {wrapper}\n" if mixed else "") + "".join(
                f"    v{i} = kwargs[{n!r}]\n"
                for i, n in enumerate(names)
                if n != self.option
            )
            args = "".join(
                f", {n}=v{i}" for i, n in enumerate(names) if n != self.option
            )
        call = _CALLS[self.is_async, mixed]
        if self.robust:
            call = _ROBUST_CALL.format(call=textwrap.indent(call, "    "))
        item, items = _MIXED_ITEMS if mixed else _UNIFORM_ITEMS
        head = _HEAD.format(
            async_="async " if self.is_async else "",
            name=self.name,
            failures=", failures" if self.robust else "",
            unpack=unpack,
            item=item,
            items=items,
        )
        return head + textwrap.indent(call.format(args=args), " " * 8) + _TAIL


SEND: LoopKind[SendLoop] = LoopKind("send", is_async=False, robust=False)
SEND_ASYNC: LoopKind[AsyncSendLoop] = LoopKind(
    "send_async", is_async=True, robust=False
)
SEND_ROBUST: LoopKind[SendLoop] = LoopKind("send_robust", is_async=False, robust=True)
SEND_ASYNC_ROBUST: LoopKind[AsyncSendLoop] = LoopKind(
    "send_async_robust", is_async=True, robust=True
)


def _is_plain_name(name: str) -> bool:
    # ASCII only: the compiler NFKC-normalises other identifiers, so a name
    # such as "ﬁ" would reach receivers as "fi". And ``__debug__`` cannot be
    # written as a keyword argument at all.
    return (
        name.isascii()
        and name.isidentifier()
        and not keyword.iskeyword(name)
        and name != "__debug__"
    )


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
