"""Measure anysignal against blinker, Django and psygnal, and the floors.

Run by ``nox -s bench`` (``nox -s bench -- --quick`` for CI's smoke run)::

    python benchmarks/run.py [--quick] [--case PATTERN ...] [--output-dir DIR] [--docs]

Prints the tables, and writes ``latest.json``, ``table.txt`` and ``bench.png``
to the output directory. ``--docs`` also writes the chart and the tables used by
docs/performance.rst. Fails (with a traceback) when a case errors or a
contender's receivers or results are wrong; asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import fnmatch
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import report
from cases import CASES, Case, memory, timed
from contenders import CONTENDERS
from goals import Results
from timing import FULL, QUICK, Settings, Stats, compile_bench, measure, run_on

BENCHMARKS = Path(__file__).resolve().parent
DOCS = BENCHMARKS.parent / "docs"
DOCS_CHART = DOCS / "_static" / "bench.png"
DOCS_TABLES = DOCS / "performance_results.inc"


def run_timed_case(case: Case, settings: Settings) -> dict[str, Stats | None]:
    prepared = {c.name: timed(case, c, settings) for c in CONTENDERS}
    ready = {name: p for name, p in prepared.items() if p is not None}
    benches = {name: compile_bench(p.code, p.namespace) for name, p in ready.items()}

    async def main() -> dict[str, Stats]:
        for p in ready.values():
            await p.check()
        return await measure(benches, case.timing(settings))

    measured = run_on(case.backend, main)
    return {
        name: measured[name].per(p.parts) if p is not None else None
        for name, p in prepared.items()
    }


def run_case(case: Case, settings: Settings) -> dict[str, Stats | None]:
    if case.op == "memory":
        return {c.name: memory(case, c, settings) for c in CONTENDERS}
    return run_timed_case(case, settings)


def select(patterns: Sequence[str]) -> list[Case]:
    if not patterns:
        return list(CASES)
    chosen = [c for c in CASES if any(fnmatch.fnmatch(c.id, p) for p in patterns)]
    if not chosen:
        known = ", ".join(c.id for c in CASES)
        msg = f"no case matches {list(patterns)}; the cases are: {known}"
        raise SystemExit(msg)
    return chosen


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="few short rounds: checks that every case runs (CI), not speed",
    )
    parser.add_argument(
        "--case",
        action="append",
        default=[],
        metavar="PATTERN",
        help="run the cases whose id matches this glob (repeatable), e.g. 'send-*'",
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=BENCHMARKS / "results",
        help="where to write latest.json, table.txt and bench.png",
    )
    parser.add_argument(
        "--docs",
        action="store_true",
        help=f"also write {DOCS_CHART.relative_to(BENCHMARKS.parent)} and "
        f"{DOCS_TABLES.relative_to(BENCHMARKS.parent)}",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str]) -> None:
    args = parse_args(argv)
    if args.docs and (args.quick or args.case):
        msg = "--docs wants a full run of every case: drop --quick and --case"
        raise SystemExit(msg)
    settings = QUICK if args.quick else FULL
    cases = select(args.case)
    started = time.perf_counter()
    results: Results = {}
    for case in cases:
        print(f"{case.id} ...", end=" ", flush=True)
        results[case.id] = run_case(case, settings)
        print("ok", flush=True)

    machine = report.machine_info()
    text = report.text_report(cases, results, machine)
    print(f"\n{text}")
    args.output_dir.mkdir(parents=True, exist_ok=True)
    report.write_json(
        args.output_dir / "latest.json",
        report.to_json(cases, results, machine, settings),
    )
    (args.output_dir / "table.txt").write_text(text)
    report.write_chart(args.output_dir / "bench.png", cases, results, machine)
    if args.docs:
        DOCS_CHART.parent.mkdir(parents=True, exist_ok=True)
        report.write_chart(DOCS_CHART, cases, results, machine)
        DOCS_TABLES.write_text(report.rst_include(cases, results, machine))
    elapsed = time.perf_counter() - started
    print(f"\nWrote results to {args.output_dir} in {elapsed:.0f} s.")


if __name__ == "__main__":
    main(sys.argv[1:])
