"""Named signals and the namespaces that hold them."""

from __future__ import annotations

from ._signal import Signal


class NamedSignal(Signal):
    """A :class:`Signal` with a name, as made by :meth:`Namespace.signal`.

    :param name: The name of the signal.
    :param doc: The docstring of the signal.
    """

    def __init__(self, name: str, doc: str | None = None) -> None:
        super().__init__(doc)
        self.name = name
        """The name of this signal."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


class Namespace(dict[str, NamedSignal]):
    """A mapping of names to signals: the same name always gives the same signal.

    An extension keeps its signals in a namespace of its own, so that its names
    cannot clash with another extension's.
    """

    def signal(self, name: str, doc: str | None = None) -> NamedSignal:
        """Return the signal called ``name``, making it on first use.

        :param name: The name of the signal.
        :param doc: The docstring, used only when the signal is made.
        """
        try:
            return self[name]
        except KeyError:
            return self.setdefault(name, NamedSignal(name, doc))


default_namespace: Namespace = Namespace()
"""The namespace that :func:`signal` uses."""


def signal(name: str, doc: str | None = None) -> NamedSignal:
    """Return the signal called ``name`` in :data:`default_namespace`.

    :param name: The name of the signal.
    :param doc: The docstring, used only when the signal is made.
    """
    return default_namespace.signal(name, doc)
