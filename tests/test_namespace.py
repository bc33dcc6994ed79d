"""Signal, NamedSignal, Namespace and the default namespace."""

from __future__ import annotations

import anysignal
from anysignal import NamedSignal, Namespace, Signal


def test_namespace_returns_the_same_signal_for_the_same_name() -> None:
    ns = Namespace()
    assert ns.signal("saved") is ns.signal("saved")
    assert ns.signal("saved") is not ns.signal("deleted")
    assert set(ns) == {"saved", "deleted"}


def test_namespaces_are_independent() -> None:
    assert Namespace().signal("saved") is not Namespace().signal("saved")


def test_named_signal_has_its_name_and_shows_it() -> None:
    sig = NamedSignal("saved", doc="Sent after a save.")
    assert sig.name == "saved"
    assert repr(sig) == "<NamedSignal 'saved'>"
    assert sig.__doc__ == "Sent after a save."


def test_the_doc_given_first_is_kept() -> None:
    ns = Namespace()
    ns.signal("saved", doc="first")
    assert ns.signal("saved", doc="second").__doc__ == "first"


def test_module_level_signal_uses_the_default_namespace() -> None:
    sig = anysignal.signal("test-module-level")
    assert anysignal.default_namespace["test-module-level"] is sig


def test_signal_repr_and_doc() -> None:
    sig = Signal("Sent when something happens.")
    assert sig.__doc__ == "Sent when something happens."
    assert repr(sig).startswith("<Signal at 0x")


def test_signal_any_is_the_module_any() -> None:
    assert Signal.ANY is anysignal.ANY
    assert repr(anysignal.ANY) == "ANY"


def test_connect_works_as_a_decorator() -> None:
    sig = Signal()

    @sig.connect
    def receiver(sender: object) -> str:
        return "decorated"

    assert sig.send() == [(receiver, "decorated")]


def test_connect_via_holds_strongly_by_default() -> None:
    sig = Signal()

    def install() -> None:
        @sig.connect_via("s")
        def receiver(sender: object) -> str:
            return "via"

    install()
    assert [result for _, result in sig.send("s")] == ["via"]
    assert sig.send("t") == []
