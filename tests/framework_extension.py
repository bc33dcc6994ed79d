"""A tiny extension shared, unchanged, by the Flask and the Quart tests.

Like a real extension module it imports neither framework: one signal, and
receivers that log which of them ran, in which thread, into the ``calls`` list
that the sender passes.
"""

from __future__ import annotations

import threading
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from anysignal import Namespace

if TYPE_CHECKING:
    from collections.abc import Iterator

extension = Namespace()
saved = extension.signal("saved", "A record was saved.")


@dataclass(frozen=True)
class Call:
    receiver: str
    thread: threading.Thread


def write_row(sender: object, *, calls: list[Call], **kwargs: object) -> str:
    calls.append(Call("write_row", threading.current_thread()))
    return "row written"


async def notify(sender: object, *, calls: list[Call], **kwargs: object) -> str:
    calls.append(Call("notify", threading.current_thread()))
    return "subscriber notified"


def count(sender: object, *, calls: list[Call], **kwargs: object) -> str:
    calls.append(Call("count", threading.current_thread()))
    return "counted"


RECEIVERS = (write_row, notify, count)
"""Sync, async, sync: the order they are connected in."""


@contextmanager
def receivers_connected() -> Iterator[None]:
    """Connect :data:`RECEIVERS` to :data:`saved`, in order, for a ``with`` block."""
    with ExitStack() as stack:
        for receiver in RECEIVERS:
            stack.enter_context(saved.connected_to(receiver))
        yield
