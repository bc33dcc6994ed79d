"""Development tasks: ``nox`` runs lint, typing, tests and docs; see README.md."""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
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


COMPAT = ROOT / "tests" / "compat"
"""The folder of the stand-in ``blinker`` package."""

COMPAT_PINS = {"blinker": "1.9.0", "flask": "3.1.3", "quart": "0.21.0"}
"""The releases whose own test suites ``compat`` runs."""

QUART_CHECKOUT = "ANYSIGNAL_QUART_CHECKOUT"
"""The variable naming a git checkout of Quart at the pinned tag. Quart's sdists
carry no tests, and a third party's code is not copied into this repository, so
Quart's suite runs only where a checkout is at hand."""

COMPAT_DESELECTED: dict[str, dict[str, str]] = {
    # Each is a test of blinker's internals or of a difference that the
    # "Differences from blinker" section of docs/semantics.rst states.
    "blinker": {
        "tests/test_symbol.py": (
            "imports the private blinker._utilities: the stand-in has blinker's "
            "public names (the table of them in docs/semantics.rst)"
        ),
        "tests/test_signals.py::test_empty_bucket_growth": (
            "reads blinker's private _by_sender and _by_receiver tables and calls "
            "its private _cleanup_bookkeeping()"
        ),
        "tests/test_signals.py::test_weak_receiver": (
            "after its public checks pass, reads blinker's private _by_receiver "
            "and _by_sender tables"
        ),
        "tests/test_signals.py::test_strong_receiver": (
            "reads the values of Signal.receivers, whose structure is private in "
            "both libraries (the table's Signal.receivers row)"
        ),
        "tests/test_signals.py::test_filtered_receiver_weakref": (
            "asserts that Signal.receivers stays true after the receiver's only "
            "sender died; anysignal's is false then (the Signal.receivers row)"
        ),
    },
    "flask": {},
    "quart": {},
}
"""Per suite: a test (node id) or a test module (path) not run, and why."""

_STAND_IN_CHECK = """
import importlib, importlib.metadata, pathlib, sys
import anysignal, blinker, blinker.base
folder, framework = pathlib.Path(sys.argv[1]), sys.argv[2]
assert pathlib.Path(blinker.__file__).parent == folder / "blinker", blinker.__file__
assert blinker.Signal is blinker.base.Signal is anysignal.Signal
try:
    importlib.metadata.distribution("blinker")
except importlib.metadata.PackageNotFoundError:
    pass
else:
    sys.exit("the real blinker is installed")
if framework:
    assert importlib.import_module(framework).Namespace is anysignal.Namespace
print("import blinker gives the stand-in:", blinker.__file__)
"""


def _unpack_sdist(session: nox.Session, name: str, into: Path) -> Path:
    """Download the pinned sdist of ``name`` from PyPI and unpack it."""
    version = COMPAT_PINS[name]
    shutil.rmtree(into, ignore_errors=True)
    into.mkdir(parents=True)
    session.run(
        "python", "-m", "pip", "download", "--quiet", "--no-deps",
        "--no-binary", ":all:", "--dest", str(into), f"{name}=={version}",
    )  # fmt: skip
    [sdist] = into.glob("*.tar.gz")
    with tarfile.open(sdist) as archive:
        archive.extractall(into, filter="data")
    [source] = [path for path in into.iterdir() if path.is_dir()]
    return source


def _quart_checkout(session: nox.Session, version: str) -> Path:
    """Return the Quart checkout named by QUART_CHECKOUT, or skip the session."""
    checkout = os.environ.get(QUART_CHECKOUT)
    if not checkout:
        session.skip(
            f"Quart's sdist has no tests: set {QUART_CHECKOUT} to a git checkout "
            f"of Quart at its {version} tag to run them"
        )
    return Path(checkout).resolve()


def _install_locked(
    session: nox.Session, source: Path, requirement: str, tmp: Path, *extras: str
) -> None:
    """Install ``requirement`` with the test environment locked in ``source``.

    Flask and Quart keep a ``uv.lock``: their suites run with the versions they
    were released with (a newer Werkzeug, say, fails a Flask test on its own).
    """
    locked = tmp / "requirements-tests.txt"
    session.run(
        "uv", "export", "--quiet", "--frozen", "--directory", str(source),
        "--no-default-groups", "--group", "tests",
        *(arg for extra in extras for arg in ("--extra", extra)),
        "--no-hashes", "--no-emit-project", "--no-emit-package", "blinker",
        "--output-file", str(locked),
    )  # fmt: skip
    session.install(".", requirement, "-r", str(locked))


@nox.session(python=PYTHONS[0])
@nox.parametrize("suite", list(COMPAT_PINS))
def compat(session: nox.Session, suite: str) -> None:
    """Run blinker's, Flask's and Quart's own test suites with anysignal as blinker.

    The stand-in blinker (tests/compat/blinker) re-exports anysignal's names; the
    real blinker is not installed. ``COMPAT_DESELECTED`` lists what is not run.
    """
    version = COMPAT_PINS[suite]
    session.install("pip", "uv")  # pip downloads sdists; uv reads the locks
    tmp = Path(session.create_tmp()).resolve()  # uv export runs elsewhere
    if suite == "quart":
        source = _quart_checkout(session, version)
    else:
        source = _unpack_sdist(session, suite, tmp / "sdist")
    if suite == "blinker":
        session.install(".", "-r", str(source / "requirements" / "tests.txt"))
    elif suite == "flask":
        _install_locked(session, source, f"flask[async]=={version}", tmp, "async")
    else:
        _install_locked(session, source, f"quart=={version}", tmp)
    # Flask and Quart require blinker: anysignal stands in for it.
    session.run("python", "-m", "pip", "uninstall", "--quiet", "--yes", "blinker")
    session.env["PYTHONPATH"] = str(COMPAT)
    framework = "" if suite == "blinker" else f"{suite}.signals"
    session.run("python", "-c", _STAND_IN_CHECK, str(COMPAT), framework)

    args = ["-p", "no:cacheprovider"]
    if suite == "quart":
        args += ["-p", "no:sugar"]  # pytest-sugar, in Quart's lock, only restyles
    for test, reason in COMPAT_DESELECTED[suite].items():
        session.log(f"not run: {test}: {reason}")
        args += ["--deselect" if "::" in test else "--ignore", test]
    session.chdir(source)
    # pytest's temporary folders go outside the venv, where nox's TMPDIR would put
    # them: Flask takes a module under sys.prefix for an installed one.
    with tempfile.TemporaryDirectory(prefix="anysignal-compat-") as basetemp:
        args += ["--basetemp", basetemp]
        session.run("python", "-m", "pytest", *args, *session.posargs)
