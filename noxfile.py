"""Development tasks: ``nox`` runs lint, typing, tests and docs; see README.md."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import nox

nox.needs_version = ">=2025.2.9"
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["lint", "typing", "tests", "docs"]
# A machine may lack some of the Pythons below: the tests run on each one found.
nox.options.error_on_missing_interpreters = False

ROOT = Path(__file__).parent
PYPROJECT = nox.project.load_toml("pyproject.toml")
PYTHONS = [
    classifier.rpartition(" :: ")[2]
    for classifier in PYPROJECT["project"]["classifiers"]
    if classifier.startswith("Programming Language :: Python :: 3.")
]
"""The Pythons the project supports, as its classifiers say."""

# uv would otherwise try to download a missing Python; we only use what is installed.
os.environ.setdefault("UV_PYTHON_DOWNLOADS", "never")


def _expose_pyenv_pythons() -> None:
    """Let nox find every pyenv-installed Python, not only the global one.

    pyenv's shims answer ``python3.12`` only when 3.12 is in PYENV_VERSION.
    """
    if "PYENV_VERSION" in os.environ or shutil.which("pyenv") is None:
        return
    installed = subprocess.run(
        ["pyenv", "versions", "--bare", "--skip-aliases"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    wanted = [v for v in installed if v.startswith(tuple(f"{p}." for p in PYTHONS))]
    if wanted:
        os.environ["PYENV_VERSION"] = ":".join(wanted)


_expose_pyenv_pythons()


def _install(session: nox.Session, *groups: str, extras: str = "") -> None:
    deps = [
        dep
        for group in groups
        for dep in nox.project.dependency_groups(PYPROJECT, group)
    ]
    session.install(f".{extras}", *deps)


@nox.session(python=PYTHONS[0])
def demo(session: nox.Session) -> None:
    """The main job: one audit-log extension, driven through a Flask and a Quart app."""
    session.install(".[flask,quart]")
    session.run("python", "examples/demo.py", *session.posargs)


@nox.session(python=PYTHONS[0])
def cluster(session: nox.Session) -> None:
    """Both example apps under gunicorn and hypercorn, 3 workers each: the trace."""
    if shutil.which("redis-server") is None:
        session.error("redis-server is not on PATH: apt-get install redis-server")
    _install(session, "deploy")
    session.run("python", "-m", "tests.relay_workers.cluster", *session.posargs)


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """Run the test suite with branch coverage; Flask, Quart and servers installed."""
    _install(session, "tests", "deploy")
    session.env["COVERAGE_FILE"] = str(Path(session.create_tmp()) / ".coverage")
    session.run("coverage", "erase")
    session.run("coverage", "run", "-m", "pytest", *session.posargs)
    session.run("coverage", "report", "--fail-under=95")


@nox.session(python=PYTHONS[0])
def tests_core(session: nox.Session) -> None:
    """Run the tests with neither Flask nor Quart installed: the core needs neither."""
    _install(session, "tests")
    session.run("pytest", *session.posargs)


@nox.session(python=PYTHONS[0])
def stress(session: nox.Session) -> None:
    """Run the stress tests for longer than the default test run does.

    With redis-py, so that the relay's slow fault tests run too.
    """
    _install(session, "tests", "frameworks")
    session.run("pytest", "--stress", "-m", "stress", *session.posargs)


@nox.session(python=PYTHONS[0])
def lint(session: nox.Session) -> None:
    """Check style and formatting with ruff."""
    session.install("ruff")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHONS[0])
def typing(session: nox.Session) -> None:
    """Type-check with mypy --strict; check the typing tests with pyright too."""
    _install(session, "typing")
    session.run("mypy", "src", "tests", "examples", *session.posargs)
    # tests/typing only, as [tool.pyright] says: named explicitly, so that no
    # pyrightconfig.json in a parent folder can take over.
    session.run("pyright", "--project", "pyproject.toml")


@nox.session(python=PYTHONS[0])
def docs(session: nox.Session) -> None:
    """Build the docs with warnings as errors and run their examples as doctests."""
    _install(session, "docs")
    out = Path(session.create_tmp())
    session.run(
        "sphinx-build", "-W", "--keep-going", "-b", "html", "docs", str(out / "html")
    )
    session.run(
        "sphinx-build",
        "-W",
        "--keep-going",
        "-b",
        "doctest",
        "docs",
        str(out / "doctest"),
    )


@nox.session(python=PYTHONS[0])
def bench(session: nox.Session) -> None:
    """Compare anysignal with blinker, Django and psygnal (``-- --quick``: smoke)."""
    _install(session, "bench")
    session.install(".[redis]")
    session.run("python", "benchmarks/run.py", *session.posargs)
    if shutil.which("redis-server") is None:
        session.warn("redis-server is not on PATH: skipping the relay benchmark")
        return
    quick = ["--quick"] if "--quick" in session.posargs else []
    session.run("python", "benchmarks/relay_bench.py", *quick)
