"""Receivers whose definitions the introspection tests find by their text.

Each definition's first line is unique in this file, so that a test can look
it up instead of counting lines.
"""

from __future__ import annotations

import functools
import typing as t

from anysignal import Namespace
from anysignal.framework import inline

signals = Namespace()
saved = signals.signal("saved", "A record was saved.")
deleted = signals.signal("deleted")


def write_row(sender: object, **kwargs: object) -> None:
    pass


async def notify(sender: object, **kwargs: object) -> None:
    pass


@inline
def count(sender: object, **kwargs: object) -> None:
    pass


class Auditor:
    def audit(self, sender: object, **kwargs: object) -> None:
        pass


class CallableReceiver:
    def __call__(self, sender: object, **kwargs: object) -> None:
        pass


def logged(func: t.Callable[..., None]) -> t.Callable[..., None]:
    @functools.wraps(func)
    def wrapper(sender: object, **kwargs: object) -> None:
        func(sender, **kwargs)

    return wrapper


@logged
def wrapped(sender: object, **kwargs: object) -> None:
    pass


def with_table(sender: object, *, table: str, **kwargs: object) -> None:
    pass


note_saved = signals.signal("note-saved", "A note was saved: listed by the CLI tests.")
