"""Typed signals at runtime: plain named signals (types: see tests/typing)."""

from __future__ import annotations

import pytest

from anysignal import NamedSignal, Namespace, TypedSignal, typed_signal


def user_logged_in(sender: object, /, *, user: str) -> str:
    """Sent after a user logs in."""
    raise NotImplementedError


def test_a_typed_signal_takes_its_name_and_doc_from_the_stub() -> None:
    sig = typed_signal(user_logged_in)
    assert isinstance(sig, NamedSignal)
    assert (sig.name, sig.__doc__) == ("user_logged_in", "Sent after a user logs in.")
    assert repr(sig) == "<TypedSignal 'user_logged_in'>"


def test_a_typed_signal_sends_as_any_signal() -> None:
    sig = typed_signal(user_logged_in)

    def greet(sender: object, /, *, user: str) -> str:
        return f"hello {user}"

    sig.connect(greet)
    assert sig.send("app", user="ada") == [(greet, "hello ada")]


def test_a_typed_signal_adds_nothing_to_the_send_methods() -> None:
    for name in ("send", "send_async", "connect"):
        assert name not in vars(TypedSignal)


def test_a_namespace_makes_each_typed_signal_once() -> None:
    ns = Namespace()
    sig = ns.typed_signal(user_logged_in)
    assert ns.typed_signal(user_logged_in) is sig
    assert ns.signal("user_logged_in") is sig


def test_a_name_taken_by_an_untyped_signal_is_refused() -> None:
    ns = Namespace()
    ns.signal("user_logged_in")
    with pytest.raises(TypeError, match="already an untyped signal"):
        ns.typed_signal(user_logged_in)
