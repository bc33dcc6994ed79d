"""Third-party test suites run with anysignal standing in for blinker.

``blinker/`` here is the stand-in: put this folder first on ``sys.path``
(``PYTHONPATH``) and ``import blinker`` gives anysignal's names. ``nox -s
compat`` runs blinker's, Flask's and Quart's own test suites that way; see
``docs/semantics.rst`` ("Differences from blinker"). Nothing here is collected
by the project's own test run (``tests/conftest.py`` ignores this folder).
"""
