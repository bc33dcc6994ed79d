from __future__ import annotations

import subprocess
import sys
import types

import pytest

import anysignal


def test_all_lists_exactly_the_public_names() -> None:
    public = {
        name
        for name, value in vars(anysignal).items()
        # Submodules such as anysignal.flask appear here once imported.
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert set(anysignal.__all__) == public


def test_every_public_name_is_documented() -> None:
    for name in anysignal.__all__:
        obj = getattr(anysignal, name)
        if callable(obj):
            assert obj.__doc__, name


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
