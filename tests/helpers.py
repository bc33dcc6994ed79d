"""Receivers that record their calls, shared by the tests."""

from __future__ import annotations

import typing as t

from anysignal import ANY, Signal


class Recorder:
    """Makes named receivers that append their name to one shared call log."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def sync(self, name: str) -> t.Callable[..., str]:
        def receiver(sender: object, **kwargs: object) -> str:
            self.calls.append(name)
            return name

        receiver.__name__ = receiver.__qualname__ = name
        return receiver

    def async_(self, name: str) -> t.Callable[..., t.Awaitable[str]]:
        async def receiver(sender: object, **kwargs: object) -> str:
            self.calls.append(name)
            return name

        receiver.__name__ = receiver.__qualname__ = name
        return receiver


def assert_no_bookkeeping(sig: Signal) -> None:
    """Assert that nothing of any past connection is left in ``sig``'s tables."""
    assert not sig.receivers
    assert not any(sig._by_sender.values())
    assert list(sig._by_sender) == [id(ANY)]
    assert sig._senders == {}
    assert sig._dead == []
