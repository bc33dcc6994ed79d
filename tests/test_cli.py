"""The ``signals`` command of ``flask`` and ``quart``, found through entry points."""

from __future__ import annotations

import json
import re
import sys
import typing as t
from pathlib import Path

import pytest

pytest.importorskip("click")  # installed by Flask and by Quart

from anysignal.cli import signals_command

from .introspected import Auditor, count, note_saved, notify, write_row

if t.TYPE_CHECKING:
    from collections.abc import Iterator

    from click.testing import Result

FRAMEWORKS = ["flask", "quart"]


def make_app(framework: str) -> t.Any:
    """An app of ``framework``, skipping the test when it is not installed."""
    module = pytest.importorskip(framework)
    return module.Flask("notes") if framework == "flask" else module.Quart("notes")


def run(app: t.Any, framework: str, *args: str) -> Result:
    """Run ``<framework> signals ARGS`` as the framework's own command line would."""
    group: t.Any
    if framework == "flask":
        from flask.cli import FlaskGroup

        group = FlaskGroup(create_app=lambda: app, load_dotenv=False)
    else:
        from quart.cli import QuartGroup

        group = QuartGroup(create_app=lambda: app, load_dotenv=False)
    runner = app.test_cli_runner()
    return runner.invoke(group, ["signals", *args], prog_name=framework)  # type: ignore[no-any-return]


@pytest.fixture(params=FRAMEWORKS)
def framework(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def app(framework: str) -> Iterator[t.Any]:
    """An app, with note-saved's receivers connected in a known order."""
    app = make_app(framework)
    auditor = Auditor()
    note_saved.connect(write_row)
    note_saved.connect(notify, sender=app, priority=5)
    note_saved.connect(count, sender="another app")
    note_saved.connect(auditor.audit, weak=False, priority=-1)
    yield app
    for receiver in (write_row, notify, count, auditor.audit):
        note_saved.disconnect(receiver)


def test_the_command_is_registered_for_both_frameworks(framework: str) -> None:
    from importlib.metadata import entry_points

    [point] = entry_points(group=f"{framework}.commands", name="signals")
    assert point.load() is signals_command


def test_it_lists_receivers_in_call_order_for_the_app(
    app: t.Any, framework: str
) -> None:
    result = run(app, framework, "note-saved")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[:4] == [
        f"Receivers in call order for {app!r}:",
        "",
        "tests.introspected.signals",
        "  note-saved",
    ]
    rows = [line.split() for line in lines[5:]]
    assert [row[:5] for row in rows] == [
        ["1", "tests.introspected.notify", "async", "weak", "5"],
        ["2", "tests.introspected.write_row", "sync", "weak", "0"],
        ["3", "tests.introspected.Auditor.audit", "sync", "strong", "-1"],
    ]
    assert len(lines) == 8


def test_every_location_printed_points_at_its_receiver(
    app: t.Any, framework: str
) -> None:
    result = run(app, framework, "note-saved")
    rows = [line.split() for line in result.output.splitlines()[5:]]
    assert len(rows) == 3
    for row in rows:
        name, (path, line) = row[1], row[-1].rsplit(":", 1)
        [file] = [
            Path(entry or ".") / path
            for entry in sys.path
            if (Path(entry or ".") / path).is_file()
        ][:1]
        definition = file.read_text().splitlines()[int(line) - 1]
        assert re.match(rf"\s*(async )?def {name.rpartition('.')[2]}\(", definition)


def test_it_lists_the_neutral_built_in_signals(app: t.Any, framework: str) -> None:
    result = run(app, framework)
    assert result.exit_code == 0, result.output
    assert "\nanysignal.framework.signals\n" in result.output
    assert "  request-finished: no receivers\n" in result.output
    assert "\ntests.introspected.signals\n" in result.output


def test_json_has_every_field_of_every_receiver(app: t.Any, framework: str) -> None:
    result = run(app, framework, "note-saved", "--json")
    assert result.exit_code == 0, result.output
    listing = json.loads(result.output)
    assert listing["sender"] == repr(app)
    [namespace] = listing["namespaces"]
    assert namespace["namespace"] == "tests.introspected.signals"
    [signal] = namespace["signals"]
    assert signal["name"] == "note-saved"
    assert signal["muted"] is False
    first = signal["receivers"][0]
    assert first == {
        "name": "tests.introspected.notify",
        "file": first["file"],
        "line": first["line"],
        "kind": "async",
        "weak": True,
        "priority": 5,
        "connections": [{"sender": repr(app), "priority": 5}],
    }
    assert Path(first["file"]).name == "introspected.py"


def test_an_unknown_name_is_a_usage_error(app: t.Any, framework: str) -> None:
    result = run(app, framework, "no-such-signal")
    assert result.exit_code == 2
    assert (
        f"no anysignal signal is named 'no-such-signal'. Run '{framework} signals'"
        in result.output
    )


def test_a_muted_signal_is_marked(app: t.Any, framework: str) -> None:
    with note_saved.muted():
        result = run(app, framework, "note-saved")
    assert "  note-saved (muted)\n" in result.output


def test_a_built_in_receiver_has_no_location(app: t.Any, framework: str) -> None:
    with note_saved.connected_to(print):
        result = run(app, framework, "note-saved")
    [row] = [line for line in result.output.splitlines() if "builtins.print" in line]
    assert row.endswith("  (built-in)")
