"""Sphinx configuration for the anysignal documentation.

Build with ``nox -s docs``: it builds the HTML with warnings as errors and runs
every example on every page as a doctest.
"""

from __future__ import annotations

import doctest
from importlib.metadata import version as _version
from pathlib import Path

from sphinx.pycode import ModuleAnalyzer

project = "anysignal"
author = "The anysignal developers"
copyright = "the anysignal developers"
release = _version("anysignal")
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.doctest",
    "sphinx.ext.viewcode",
]
# sphinx.ext.intersphinx is left out on purpose: it fetches inventories over the
# network, and the docs build must pass (with -W) where there is none.

root_doc = "index"
exclude_patterns = ["_build"]

# -- autodoc -----------------------------------------------------------------

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
# Show the private type aliases by name, not expanded into long Callable types.
autodoc_type_aliases = {
    "AsyncWrapper": "AsyncWrapper",
    "SyncWrapper": "SyncWrapper",
    "Receiver": "Receiver",
}
python_use_unqualified_type_names = True
add_module_names = False

# -- doctest -----------------------------------------------------------------

# Every example on every page runs. ELLIPSIS lets an output line say ``0x...``
# where Python prints a memory address. Sphinx's default flags also include
# IGNORE_EXCEPTION_DETAIL, which would let any message pass: the pages quote
# error messages, so they are checked word for word.
doctest_default_flags = doctest.ELLIPSIS | doctest.DONT_ACCEPT_TRUE_FOR_1
doctest_test_doctest_blocks = "default"
# The pages that run the example apps' command lines find them here.
doctest_global_setup = (
    f"EXAMPLES_DIR = {str(Path(__file__).resolve().parent.parent / 'examples')!r}"
)

# -- HTML --------------------------------------------------------------------

html_theme = "furo"
html_title = f"anysignal {release}"

# -- the data docstrings of re-exported names ----------------------------------

# Data that ``anysignal`` re-exports, and the private module that defines it.
# autodoc looks for a data docstring in the module it documents the name under
# (``anysignal``), finds none, and falls back to the docstring of the value's
# class. These names take their docstring from where they are defined instead.
_REEXPORTED_DATA = {
    "anysignal.ANY": "anysignal._senders",
    "anysignal.default_namespace": "anysignal._namespace",
}


def _defining_module_docstring(  # noqa: PLR0917 - Sphinx's event signature
    app, what, name, obj, options, lines
):
    module = _REEXPORTED_DATA.get(name)
    if what != "data" or module is None:
        return
    attr_docs = ModuleAnalyzer.for_module(module).find_attr_docs()
    doc = attr_docs.get(("", name.rpartition(".")[2]))
    if doc is None:
        msg = f"{name}: no docstring found in {module}"
        raise RuntimeError(msg)
    lines[:] = list(doc)


def setup(app):
    app.connect("autodoc-process-docstring", _defining_module_docstring)
