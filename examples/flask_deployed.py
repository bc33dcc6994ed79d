"""A Flask app served by gunicorn with several workers, its settings cached.

Run it (Redis on 127.0.0.1:6379, from the examples folder)::

    export RELAY_SECRET=$(python -c 'import secrets; print(secrets.token_hex(32))')
    gunicorn --workers 3 --bind 127.0.0.1:8000 'flask_deployed:create_app()'
    gunicorn --workers 3 --threads 4 --preload --bind 127.0.0.1:8000 \\
        'flask_deployed:create_app()'

then ``curl -X POST -d '{"colour": "blue"}' -H 'Content-Type: application/json'
127.0.0.1:8000/settings``: every worker drops its cached settings.

The relay is made at import time, as a module-level object: with ``--preload``
that happens once, in gunicorn's master process, before it forks the workers.
The relay makes every forked worker start its own threads and connections, so
the app needs no ``post_fork`` hook.
"""

from __future__ import annotations

import logging
import os
import typing as t

from flask import Flask, abort, request

import anysignal.flask
import settings_cache
from anysignal.relay import Relay

# The relay logs its lost connections, lost events and shutdown on
# "anysignal.relay", with the worker's pid on every line to tell workers apart.
_handler = logging.StreamHandler()
_handler.setFormatter(
    logging.Formatter("%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s")
)
logging.getLogger("anysignal").addHandler(_handler)
logging.getLogger("anysignal").setLevel(logging.INFO)

relay = Relay(
    os.environ.get("RELAY_URL", "redis://127.0.0.1:6379/0"),
    prefix=os.environ.get("RELAY_PREFIX", "settings-demo:"),
    secret=os.environ["RELAY_SECRET"],  # the same in every process of the app
)


def create_app() -> Flask:
    """Make the app: gunicorn calls it in each worker, or in its master with
    ``--preload``."""
    app = Flask(__name__)
    app.config["SETTINGS_PATH"] = os.environ.get(
        "SETTINGS_PATH", "/tmp/flask-deployed-settings.json"
    )
    settings_cache.init_app(app, relay)
    anysignal.flask.init_relay(app, relay)

    @app.get("/settings")
    def read_settings() -> dict[str, t.Any]:
        cache: settings_cache.SettingsCache = app.extensions["settings_cache"]
        return {"pid": os.getpid(), **cache.get()}

    @app.post("/settings")
    def write_settings() -> dict[str, t.Any]:
        values = request.get_json()
        if not isinstance(values, dict):
            abort(400, "post a JSON object")
        return {"pid": os.getpid(), "version": settings_cache.save_settings(values)}

    return app
