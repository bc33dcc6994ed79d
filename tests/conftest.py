from __future__ import annotations

import pytest

# tests/compat holds the stand-in blinker, with which `nox -s compat` runs
# third-party test suites: none of it is anysignal's own tests.
collect_ignore = ["compat"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--stress",
        action="store_true",
        help="run the stress tests for longer (as `nox -s stress` does)",
    )


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Every async test runs on both of anyio's backends."""
    return str(request.param)


@pytest.fixture
def stress_seconds(request: pytest.FixtureRequest) -> float:
    """How long a stress test runs: briefly by default, long with ``--stress``."""
    return 45.0 if request.config.getoption("--stress") else 0.75


# The relay tests' fixtures; redis-py and redis-server are only needed by them.
pytest_plugins = ["tests.relay_workers.fixtures"]
