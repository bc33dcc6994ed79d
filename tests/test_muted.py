"""Muted() silences a signal, and nests.

See the Semantics page, "Muting".
"""

from __future__ import annotations

import pytest

from anysignal import Signal

from .helpers import Recorder


def test_a_muted_signal_calls_nothing_and_returns_an_empty_list() -> None:
    sig = Signal()
    rec = Recorder()
    receiver = rec.sync("r")
    sig.connect(receiver)
    with sig.muted():
        inside = (sig.is_muted, sig.send())
    assert inside == (True, [])
    assert not sig.is_muted
    assert sig.send() == [(receiver, "r")]
    assert rec.calls == ["r"]


@pytest.mark.anyio
async def test_a_muted_signal_awaits_nothing() -> None:
    sig = Signal()
    rec = Recorder()
    receiver = rec.async_("r")
    sig.connect(receiver)
    with sig.muted():
        assert await sig.send_async() == []
    assert rec.calls == []


def test_leaving_an_inner_muted_block_keeps_the_outer_one_muted() -> None:
    sig = Signal()
    rec = Recorder()
    receiver = rec.sync("r")
    sig.connect(receiver)
    with sig.muted():
        with sig.muted():
            pass
        assert sig.is_muted
        assert sig.send() == []
    assert sig.send() == [(receiver, "r")]


def test_muted_ends_when_the_block_raises() -> None:
    sig = Signal()
    with pytest.raises(KeyError), sig.muted():
        raise KeyError
    assert not sig.is_muted
