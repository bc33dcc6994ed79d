"""The exceptions anysignal raises."""

from __future__ import annotations


class AsyncReceiverError(RuntimeError):
    """A coroutine receiver was reached by :meth:`Signal.send` with no way to run it.

    It subclasses :class:`RuntimeError`, which blinker raises in the same case,
    so existing ``except RuntimeError`` blocks keep working.
    """
