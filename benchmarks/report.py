"""Reporting: the tables (text and reStructuredText), the JSON file and the chart.

The same rows feed every format, so the docs' table is the terminal's table.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import os
import platform
import subprocess
import typing as t
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import psygnal

from cases import Case
from contenders import CONTENDERS, PEERS
from goals import GOALS, Goal, Results
from timing import Settings

Table: t.TypeAlias = tuple[list[str], list[list[str]]]
"""Headers and rows of cells."""

PACKAGES = ("anysignal", "blinker", "django", "psygnal", "anyio", "trio")
REPO = Path(__file__).resolve().parent.parent


# -- machine ----------------------------------------------------------------------


def _cpu_model() -> str:
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.processor() or "unknown"
    for line in cpuinfo.splitlines():
        if line.startswith("model name"):
            return line.partition(":")[2].strip()
    return platform.processor() or "unknown"


def _commit() -> str:
    # Read-only: never anything that could refresh the index of a shared tree.
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or "unknown"


def machine_info() -> dict[str, t.Any]:
    """Where and with what a run happened: goes into the JSON file and the docs."""
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": _commit(),
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "packages": {name: importlib.metadata.version(name) for name in PACKAGES},
        "psygnal_compiled": bool(getattr(psygnal, "_compiled", False)),
    }


def machine_line(machine: dict[str, t.Any]) -> str:
    packages = machine["packages"]
    compiled = "compiled" if machine["psygnal_compiled"] else "pure Python"
    return (
        f"{machine['python']} on {machine['cpu']} ({machine['cpus']} CPUs), "
        f"{machine['platform']}; anysignal {packages['anysignal']} "
        f"(commit {machine['commit']}), blinker {packages['blinker']}, "
        f"Django {packages['django']}, psygnal {packages['psygnal']} ({compiled}), "
        f"trio {packages['trio']}; {machine['date']}"
    )


# -- tables -----------------------------------------------------------------------


def _number(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.0f}" if value >= 100 else f"{value:.1f}"


def _ratio(top: float | None, bottom: float | None) -> str:
    if top is None or bottom is None:
        return "n/a"
    return f"{top / bottom:.2f}x"


def _median(results: Results, case: str, name: str) -> float | None:
    stats = results.get(case, {}).get(name)
    return None if stats is None else stats.median


def time_table(cases: Sequence[Case], results: Results) -> Table:
    headers = ["case", "unit", *(c.label for c in CONTENDERS)]
    rows = [
        [case.title, case.unit]
        + [_number(_median(results, case.id, c.name)) for c in CONTENDERS]
        for case in cases
    ]
    return headers, rows


def _goal_summary(case: Case, results: Results) -> str:
    verdicts = [goal.met(results) for goal in GOALS if goal.case == case.id]
    known = [v for v in verdicts if v is not None]
    if not verdicts:
        return ""
    if len(known) < len(verdicts):
        return "n/a"
    missed = known.count(False)
    return "met" if not missed else f"NOT met ({missed} of {len(known)} missed)"


def ratio_table(cases: Sequence[Case], results: Results) -> Table:
    headers = [
        "case",
        "anysignal / floor: loop",
        "anysignal / floor: loop+list",
        "anysignal / floor: weak+list",
        *(f"{peer.label} / anysignal" for peer in PEERS),
        "goals",
    ]
    rows = []
    for case in cases:
        ours = _median(results, case.id, "anysignal")
        rows.append(
            [
                case.title,
                _ratio(ours, _median(results, case.id, "floor")),
                _ratio(ours, _median(results, case.id, "floor_list")),
                _ratio(ours, _median(results, case.id, "floor_weak")),
                *(_ratio(_median(results, case.id, p.name), ours) for p in PEERS),
                _goal_summary(case, results),
            ]
        )
    return headers, rows


def _goal_value(goal: Goal, results: Results) -> str:
    value = goal.value(results)
    if value is None:
        return "n/a"
    return f"{value:.0f} B" if goal.denominator is None else f"{value:.2f}x"


def goal_table(cases: Sequence[Case], results: Results) -> Table:
    titles = {case.id: case.title for case in cases}
    rows = []
    for goal in GOALS:
        if goal.case not in titles:
            continue
        met = goal.met(results)
        status = "n/a" if met is None else "met" if met else "NOT met"
        rows.append([titles[goal.case], goal.text, _goal_value(goal, results), status])
    return ["case", "goal", "measured", "status"], rows


def tables(cases: Sequence[Case], results: Results) -> list[tuple[str, Table]]:
    """Every table, with its caption."""
    return [
        ("Median time per operation (ns; memory: bytes per receiver)",
         time_table(cases, results)),
        ("Ratios: anysignal to the floors, each peer to anysignal "
         "(how many times faster anysignal is)", ratio_table(cases, results)),
        ("Goals of issues 4 and 13", goal_table(cases, results)),
    ]  # fmt: skip


def format_text(table: Table) -> str:
    headers, rows = table
    widths = [max(len(row[i]) for row in [headers, *rows]) for i in range(len(headers))]

    def line(cells: list[str]) -> str:
        # The first column (the case) reads best left-aligned, numbers right-aligned.
        first = cells[0].ljust(widths[0])
        rest = (
            cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True)
        )
        return "  ".join([first, *rest]).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(headers), rule, *(line(row) for row in rows)])


def format_rst(caption: str, table: Table) -> str:
    headers, rows = table
    lines = [
        f".. list-table:: {caption}",
        "   :header-rows: 1",
        "   :stub-columns: 1",
        "",
    ]
    for row in [headers, *rows]:
        lines += [f"   * - {row[0]}", *(f"     - {cell}" for cell in row[1:])]
    return "\n".join(lines)


def rst_include(
    cases: Sequence[Case], results: Results, machine: dict[str, t.Any]
) -> str:
    """The generated part of docs/performance.rst: machine, then the tables."""
    parts = [
        ".. This file is written by ``benchmarks/run.py --docs``: do not edit it.",
        "",
        f"Measured with: {machine_line(machine)}.",
    ]
    for caption, table in tables(cases, results):
        parts += ["", format_rst(caption, table)]
    return "\n".join(parts) + "\n"


# -- JSON -------------------------------------------------------------------------


def to_json(
    cases: Sequence[Case],
    results: Results,
    machine: dict[str, t.Any],
    settings: Settings,
) -> dict[str, t.Any]:
    return {
        "machine": machine,
        "settings": asdict(settings),
        "contenders": {c.name: c.label for c in CONTENDERS},
        "cases": [
            {
                "id": case.id,
                "title": case.title,
                "unit": case.unit,
                "results": {
                    name: None if stats is None else asdict(stats)
                    for name, stats in results[case.id].items()
                },
            }
            for case in cases
        ],
        "goals": [
            {
                "case": goal.case,
                "goal": goal.text,
                "value": goal.value(results),
                "met": goal.met(results),
            }
            for goal in GOALS
            if goal.case in results
        ],
    }


def write_json(path: Path, document: dict[str, t.Any]) -> None:
    path.write_text(json.dumps(document, indent=2) + "\n")


# -- chart ------------------------------------------------------------------------

_COLORS = {
    "floor": "#bdbdbd",
    "floor_list": "#8c8c8c",
    "floor_weak": "#636363",
    "anysignal": "#d62728",
    "blinker": "#1f77b4",
    "django": "#2ca02c",
    "psygnal": "#9467bd",
    "psygnal_fast": "#c5b0d5",
}


def _bar_group(
    ax: t.Any, cases: Sequence[Case], results: Results, *, log: bool
) -> None:
    """Draw one horizontal bar per contender per case; label anysignal's bars."""
    height = 0.8 / len(CONTENDERS)
    for slot, contender in enumerate(CONTENDERS):
        for row, case in enumerate(cases):
            value = _median(results, case.id, contender.name)
            if value is None:
                continue
            y = row + (slot - (len(CONTENDERS) - 1) / 2) * height
            label = contender.label if row == 0 else None
            ax.barh(y, value, height, color=_COLORS[contender.name], label=label)
            if contender.name == "anysignal":
                ax.annotate(f" {_number(value)}", (value, y), va="center", fontsize=7)
    ax.set_yticks(range(len(cases)), [case.title for case in cases])
    ax.set_ylim(len(cases) - 0.5, -0.5)  # first case on top
    if log:
        ax.set_xscale("log")
    ax.grid(axis="x", which="both", alpha=0.3)


def write_chart(
    path: Path, cases: Sequence[Case], results: Results, machine: dict[str, t.Any]
) -> None:
    import matplotlib as mpl

    mpl.use("Agg")  # no display: CI and servers
    import matplotlib.pyplot as plt

    panels = [
        (
            [c for c in cases if c.op != "memory"],
            "median ns per operation, log scale (shorter is faster)",
            True,
        ),
        (
            [c for c in cases if c.op == "memory"],
            "bytes per weakly connected bound method (10,000 connected)",
            False,
        ),
    ]
    panels = [panel for panel in panels if panel[0]]
    heights = [len(panel[0]) * 0.55 + 0.8 for panel in panels]
    fig, axes = plt.subplots(
        len(panels),
        1,
        figsize=(11, sum(heights) + 1.2),
        gridspec_kw={"height_ratios": heights},
        squeeze=False,
    )
    for ax, (panel_cases, xlabel, log) in zip(axes[:, 0], panels, strict=True):
        _bar_group(ax, panel_cases, results, log=log)
        ax.set_xlabel(xlabel)
    fig.suptitle("anysignal and its peers, same receivers, one process", fontsize=12)
    # Above the bars, where it can hide none of them.
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncols=4, fontsize=8,
               bbox_to_anchor=(0.5, 0.975), frameon=False)  # fmt: skip
    footer = machine_line(machine).replace("; ", "\n", 1)
    fig.text(0.5, 0.005, footer, ha="center", va="bottom", fontsize=7)
    fig.tight_layout(rect=(0, 0.035, 1, 0.94))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def text_report(
    cases: Sequence[Case], results: Results, machine: dict[str, t.Any]
) -> str:
    parts = [f"Measured with: {machine_line(machine)}"]
    parts += [
        f"{caption}\n\n{format_text(table)}"
        for caption, table in tables(cases, results)
    ]
    return "\n\n".join(parts) + "\n"
