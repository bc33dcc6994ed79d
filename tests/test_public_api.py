from __future__ import annotations

import subprocess
import sys
import types

import pytest

import anysignal
import anysignal.relay


@pytest.mark.parametrize("package", [anysignal, anysignal.relay])
def test_all_lists_exactly_the_public_names(package: types.ModuleType) -> None:
    public = {
        name
        for name, value in vars(package).items()
        # Submodules such as anysignal.flask appear here once imported.
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert set(package.__all__) == public


@pytest.mark.parametrize("package", [anysignal, anysignal.relay])
def test_every_public_name_is_documented(package: types.ModuleType) -> None:
    for name in package.__all__:
        obj = getattr(package, name)
        if callable(obj):
            assert obj.__doc__, name


def test_the_relay_imports_without_redis_py_or_a_framework() -> None:
    code = (
        "import sys, anysignal.relay\n"
        "loaded = {'redis', 'flask', 'quart'} & set(sys.modules)\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    "module", ["anysignal", "anysignal.framework", "anysignal.introspection"]
)
def test_importing_anysignal_imports_no_framework(module: str) -> None:
    # anysignal.framework is what an extension for both frameworks imports.
    code = (
        f"import sys, {module}\n"
        "loaded = {'flask', 'quart', 'blinker', 'werkzeug'} & set(sys.modules)\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_blinker_style_code_runs_unchanged() -> None:
    # The example from Flask's signal docs, with the import swapped.
    from anysignal import Namespace

    my_signals = Namespace()
    model_saved = my_signals.signal("model-saved")
    seen = []

    @model_saved.connect
    def when_saved(sender: object, **extra: object) -> None:
        seen.append((sender, extra))

    model_saved.send("app", model="post")
    assert seen == [("app", {"model": "post"})]
