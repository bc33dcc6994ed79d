"""blinker parity: the table of blinker's public names in docs/semantics.rst is true.

The "Differences from blinker" section has one row per public name of blinker,
saying whether anysignal has it (*same* or *different*) or lacks it (*absent*).
These tests compare that table with the installed blinker, so that a blinker
release that adds or removes a name is noticed, and with anysignal, so that the
table never claims a name anysignal lacks, or denies one it has.
"""

from __future__ import annotations

import importlib.metadata
import re
import types
from dataclasses import dataclass
from pathlib import Path

import blinker
import pytest

import anysignal

SEMANTICS = Path(__file__).parent.parent / "docs" / "semantics.rst"
SECTION = "Differences from blinker"
STATUSES = frozenset({"same", "different", "absent"})
BLINKER_VERSION = importlib.metadata.version("blinker")

_FUTURE_FEATURE = type(annotations)
"""The type of what ``from __future__ import annotations`` binds, here as in blinker."""

# A row of the list-table: "   * - ``Signal.send``", then one "     - " line per
# further cell, each perhaps continued on more deeply indented lines.
_ROW = re.compile(r"^   \* - (?P<cell>.*)$")
_CELL = re.compile(r"^     - (?P<cell>.*)$")
_CONTINUED = re.compile(r"^       (?P<text>\S.*)$")
_NAME = re.compile(r"^``(?P<name>[\w.]+)``$")


@dataclass(frozen=True)
class Row:
    """One row of the table: a blinker name, and what anysignal has of it."""

    name: str
    """``signal`` for a module-level name, ``Signal.send`` for a member."""
    status: str
    note: str


def _public(obj: object) -> set[str]:
    return {name for name in dir(obj) if not name.startswith("_")}


def blinker_names() -> set[str]:
    """Every public name of the installed blinker, as the table spells them.

    Instances are inspected, not classes, since ``receivers``, ``is_muted`` and
    ``name`` are set in ``__init__``. A ``NamedSignal`` has every ``Signal``
    name, and a ``Namespace`` every ``dict`` name: only the names each adds
    are its own (:func:`test_named_signals_and_namespaces_inherit_as_in_blinker`
    checks that anysignal's inherit the same way).
    """
    module = {
        name
        for name, value in vars(blinker).items()
        if not name.startswith("_")
        # ``base`` is a submodule; ``annotations`` is ``from __future__ import``.
        and not isinstance(value, types.ModuleType | _FUTURE_FEATURE)
    }
    signal = _public(blinker.Signal())
    named = _public(blinker.NamedSignal("name")) - signal
    namespace = _public(blinker.Namespace()) - _public({})
    return (
        module
        | {f"Signal.{name}" for name in signal}
        | {f"NamedSignal.{name}" for name in named}
        | {f"Namespace.{name}" for name in namespace}
    )


def _section(text: str, title: str) -> list[str]:
    """Return the lines of the ``-``-underlined section ``title``, to the next one."""
    lines = text.splitlines()
    start = lines.index(title) + 2
    assert lines[start - 1] == "-" * len(title), f"{title!r} is not a section"
    for index in range(start, len(lines) - 1):
        underline = lines[index + 1]
        if lines[index] and underline == "-" * len(lines[index]):
            return lines[start:index]
    return lines[start:]


def _cells(lines: list[str]) -> list[list[str]]:
    """Return the cells of each row of the list-tables in ``lines``, in order."""
    rows: list[list[str]] = []
    for line in lines:
        if row := _ROW.match(line):
            rows.append([row["cell"]])
        elif rows and (cell := _CELL.match(line)):
            rows[-1].append(cell["cell"])
        elif rows and (more := _CONTINUED.match(line)):
            rows[-1][-1] += " " + more["text"]
    return rows


def parity_table() -> list[Row]:
    """Parse the table of blinker's names out of docs/semantics.rst."""
    header, *body = _cells(_section(SEMANTICS.read_text(), SECTION))
    assert header == ["blinker", "anysignal", "how, and why"]
    table = []
    for cells in body:
        name, status, note = cells
        spelled = _NAME.match(name)
        assert spelled, f"{name!r}: the first cell is a name in double backquotes"
        assert status in STATUSES, f"{name}: {status!r} is not one of {STATUSES}"
        table.append(Row(spelled["name"], status, note))
    return table


TABLE = parity_table()


def anysignal_has(name: str) -> bool:
    """Whether anysignal has the counterpart of blinker's ``name``.

    Members are looked up on instances, as :func:`blinker_names` finds them.
    """
    owner_name, _, member = name.rpartition(".")
    if not owner_name:
        return hasattr(anysignal, member)
    instances: dict[str, object] = {
        "Signal": anysignal.Signal(),
        "NamedSignal": anysignal.NamedSignal("name"),
        "Namespace": anysignal.Namespace(),
    }
    return hasattr(instances[owner_name], member)


def by_status(*statuses: str) -> pytest.MarkDecorator:
    """Parametrize a test over the table's rows with one of ``statuses``."""
    rows = [row for row in TABLE if row.status in statuses]
    return pytest.mark.parametrize("row", rows, ids=[row.name for row in rows])


def test_the_table_has_a_row_for_every_public_name_of_blinker_and_no_other() -> None:
    documented = [row.name for row in TABLE]
    assert len(documented) == len(set(documented)), "a name has two rows"
    actual = blinker_names()
    assert set(documented) == actual, (
        f"blinker {BLINKER_VERSION} has names the table lacks: "
        f"{sorted(actual - set(documented))}; the table has names blinker lacks: "
        f"{sorted(set(documented) - actual)}"
    )


@by_status("same", "different")
def test_a_name_the_table_says_anysignal_has_exists_in_anysignal(row: Row) -> None:
    assert anysignal_has(row.name)


@by_status("absent")
def test_a_name_the_table_says_anysignal_lacks_is_missing_from_anysignal(
    row: Row,
) -> None:
    assert not anysignal_has(row.name)


@by_status("different", "absent")
def test_every_difference_says_what_differs(row: Row) -> None:
    assert row.note.strip()


def test_named_signals_and_namespaces_inherit_as_in_blinker() -> None:
    # What the table leaves to inheritance: Signal's rows hold for NamedSignal,
    # and a Namespace has every dict method, in both libraries.
    assert issubclass(blinker.NamedSignal, blinker.Signal)
    assert issubclass(anysignal.NamedSignal, anysignal.Signal)
    assert issubclass(blinker.Namespace, dict)
    assert issubclass(anysignal.Namespace, dict)
