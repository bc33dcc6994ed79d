"""The loops that every send runs, and their copies compiled per keyword names.

The loops below *are* the definition of a send: read them to know what
``send``, ``send_async`` and the robust sends do. Each walks a snapshot (see
:mod:`anysignal._snapshot`) in order, skips a receiver whose getter gives
``None``, calls every other one as ``receiver(sender, **kwargs)`` and collects
``(receiver, result)`` pairs. ``call_each`` and ``await_each`` serve the common
case, where every receiver is called the same way; the ``_mixed`` loops serve
snapshots that mix sync and coroutine receivers; the ``_robust`` loops are the
``_mixed`` ones with each call in a ``try`` (kept apart because a ``try`` in a
loop of awaits costs every send, see the Performance page).

Why compiled copies: ``receiver(sender, **kwargs)`` makes CPython unpack the
dict into a fresh argument array at every call, while ``receiver(sender,
user=v0)`` passes a constant tuple of names. So each loop is also compiled, once
per distinct tuple of keyword names, from its own source above with ``**kwargs``
replaced by those names (:meth:`CompiledLoops.compile`). The copies are
registered with :mod:`linecache`: tracebacks and debuggers show their lines.
Names that are not plain identifiers, and any set of names past
:data:`MAX_COMPILED`, are served by the loop itself.
"""

from __future__ import annotations

import inspect
import keyword
import linecache
import typing as t
from collections.abc import Callable, Coroutine

if t.TYPE_CHECKING:
    from types import TracebackType

    from ._snapshot import Snapshot

Results: t.TypeAlias = list[tuple[t.Any, t.Any]]
Failures: t.TypeAlias = list[tuple[t.Any, Exception]]
Wrapper: t.TypeAlias = Callable[[t.Any], t.Any]


def call_each(snapshot: Snapshot, sender: object, kwargs: dict[str, t.Any]) -> Results:
    """``send``: call every receiver in turn; all are sync receivers."""
    results = []
    for get in snapshot.getters:
        receiver = get()
        if receiver is not None:
            results.append((receiver, receiver(sender, **kwargs)))
    return results


def call_each_mixed(
    snapshot: Snapshot,
    sender: object,
    kwargs: dict[str, t.Any],
    wrapper: Wrapper | None,
) -> Results:
    """``send``: coroutine receivers run through ``wrapper`` (``ensure_sync``)."""
    results = []
    for get, is_async in zip(snapshot.getters, snapshot.async_flags):
        receiver = get()
        if receiver is not None:
            call = wrapper(receiver) if is_async else receiver  # type: ignore[misc]
            results.append((receiver, call(sender, **kwargs)))
    return results


def call_each_robust(
    snapshot: Snapshot,
    sender: object,
    kwargs: dict[str, t.Any],
    wrapper: Wrapper | None,
    failures: Failures,
) -> Results:
    """``send_robust``: as ``call_each_mixed``, noting exceptions in ``failures``.

    A receiver's exception becomes its result; a BaseException such as
    KeyboardInterrupt still stops the send.
    """
    results = []
    for get, is_async in zip(snapshot.getters, snapshot.async_flags):
        receiver = get()
        if receiver is None:
            continue
        try:
            call = wrapper(receiver) if is_async else receiver  # type: ignore[misc]
            result = call(sender, **kwargs)
        except Exception as exc:
            result = exc
            failures.append((receiver, exc))
        results.append((receiver, result))
    return results


async def await_each(
    snapshot: Snapshot, sender: object, kwargs: dict[str, t.Any]
) -> Results:
    """``send_async``: await every receiver in turn; all are coroutine receivers."""
    results = []
    for get in snapshot.getters:
        receiver = get()
        if receiver is not None:
            results.append((receiver, await receiver(sender, **kwargs)))
    return results


async def await_each_mixed(
    snapshot: Snapshot,
    sender: object,
    kwargs: dict[str, t.Any],
    wrapper: Wrapper | None,
) -> Results:
    """``send_async``: sync receivers are called in their place.

    A sync receiver is called inline, on the event loop, unless a ``wrapper``
    (Quart's ``ensure_async``) is given.
    """
    results = []
    for get, is_async in zip(snapshot.getters, snapshot.async_flags):
        receiver = get()
        if receiver is None:
            continue
        if is_async:
            result = await receiver(sender, **kwargs)
        elif wrapper is None:
            result = receiver(sender, **kwargs)
        else:
            result = await wrapper(receiver)(sender, **kwargs)
        results.append((receiver, result))
    return results


async def await_each_robust(
    snapshot: Snapshot,
    sender: object,
    kwargs: dict[str, t.Any],
    wrapper: Wrapper | None,
    failures: Failures,
) -> Results:
    """``send_async_robust``: as ``await_each_mixed``, noting exceptions.

    As in ``call_each_robust``; cancellation is a BaseException, so it always
    stops the send.
    """
    results = []
    for get, is_async in zip(snapshot.getters, snapshot.async_flags):
        receiver = get()
        if receiver is None:
            continue
        try:
            if is_async:
                result = await receiver(sender, **kwargs)
            elif wrapper is None:
                result = receiver(sender, **kwargs)
            else:
                result = await wrapper(receiver)(sender, **kwargs)
        except Exception as exc:
            result = exc
            failures.append((receiver, exc))
        results.append((receiver, result))
    return results


MAX_COMPILED = 256
"""Distinct sets of keyword names compiled per loop; later ones use the loop."""

L = t.TypeVar("L", bound=Callable[..., Results | Coroutine[t.Any, t.Any, Results]])


class CompiledLoops(t.Generic[L]):
    """One loop and its compiled copies, by the tuple of keyword names they pass.

    A send looks its copy up in :attr:`copies` itself (one C-level call), and
    calls :meth:`compile` only on a miss.
    """

    __slots__ = ("_source", "copies", "loop")

    def __init__(self, loop: L) -> None:
        self.loop = loop
        """The loop as written above: the definition, and the fallback."""
        self.copies: dict[tuple[str, ...], L] = {}
        self._source: str | None = _source_of(loop)

    def compile(self, names: tuple[str, ...]) -> L:
        """Return the copy of the loop for keyword ``names``, compiling it if needed.

        Only plain identifiers are ever written into the source, so no
        caller-supplied text can change what the code does.
        """
        compiled = self.copies.get(names)
        if compiled is not None:
            return compiled
        if (
            self._source is None
            or len(self.copies) >= MAX_COMPILED
            or not all(map(_is_plain_name, names))
        ):
            return self.loop
        source = _with_names(self._source, names)
        filename = f"<anysignal loop {self.loop.__name__}({', '.join(names)})>"
        namespace: dict[str, t.Any] = {}
        exec(compile(source, filename, "exec"), namespace)
        linecache.cache[filename] = (
            len(source),
            None,
            source.splitlines(True),
            filename,
        )
        # Racing threads may both compile: either copy is correct, one is kept.
        return self.copies.setdefault(names, namespace[self.loop.__name__])


def _source_of(loop: Callable[..., t.Any]) -> str | None:
    """Return the loop's source, or None where it cannot be read."""
    try:
        source = inspect.getsource(loop)
    except OSError:  # pragma: no cover - run from byte code alone
        return None
    # The annotations name types that exist only for type checkers.
    return "from __future__ import annotations\n" + source


def _with_names(source: str, names: tuple[str, ...]) -> str:
    """Write ``names`` into every call of ``source``, read once at the start."""
    calls = "".join(f", {name}=v{i}" for i, name in enumerate(names))
    reads = "".join(f"    v{i} = kwargs[{name!r}]\n" for i, name in enumerate(names))
    head, start, body = source.partition("    results = []\n")
    return head + reads + start + body.replace(", **kwargs)", calls + ")")


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


CALL_EACH = CompiledLoops(call_each)
CALL_EACH_MIXED = CompiledLoops(call_each_mixed)
CALL_EACH_ROBUST = CompiledLoops(call_each_robust)
AWAIT_EACH = CompiledLoops(await_each)
AWAIT_EACH_MIXED = CompiledLoops(await_each_mixed)
AWAIT_EACH_ROBUST = CompiledLoops(await_each_robust)


def hide_loop_frame(traceback: TracebackType | None) -> None:
    """Unlink the loop's frame from a traceback that starts at a send method.

    A receiver's traceback then reads ``send`` -> receiver, as if ``send`` had
    called it directly: the loop is machinery, not something a user debugs.
    A traceback that ends in the loop itself is left whole.
    """
    if traceback is None:  # pragma: no cover - a raised exception has one
        return
    loop_frame = traceback.tb_next
    if loop_frame is not None and loop_frame.tb_next is not None:
        traceback.tb_next = loop_frame.tb_next
