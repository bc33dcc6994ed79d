"""A settings cache for a Flask app served by several worker processes.

Each worker keeps the app's settings in memory, read once from a JSON file
that all workers share. Saving new settings in one worker sends
:data:`settings_changed`; the app's relay carries it to every other worker, and
each drops its cached copy, so that its next request reads the new settings.
Each worker then sends :data:`settings_applied`, which tells whoever watches
(an operator, a deploy script, the tests) which workers have applied which
version, and how long it took.

Only public API: the extension relays its two signals on the app's relay.
"""

from __future__ import annotations

import fcntl  # Unix only, as gunicorn is
import json
import os
import tempfile
import threading
import time
import typing as t
from pathlib import Path

from flask import Flask, current_app

import anysignal.flask
from anysignal import Namespace
from anysignal.relay import Origin, Relay

signals = Namespace()
settings_changed = signals.signal(
    "settings-changed",
    "New settings were saved. Keyword arguments: ``version``, ``sent_at`` "
    "(the sender's ``time.time()``).",
)
settings_applied = signals.signal(
    "settings-applied",
    "A worker dropped its cached settings. Keyword arguments: ``version``, "
    "``pid`` (the worker's), ``sender_pid``, ``sent_at``, ``applied_at``.",
)


class SettingsCache:
    """The settings of one app, cached in each worker process.

    :param path: The JSON file the settings live in, shared by every worker.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()  # gthread workers serve from several threads
        self._cached: dict[str, t.Any] | None = None

    def get(self) -> dict[str, t.Any]:
        """Return the settings, reading the file only when nothing is cached."""
        with self._lock:
            if self._cached is None:
                try:
                    self._cached = json.loads(self.path.read_text())
                except FileNotFoundError:
                    self._cached = {"version": 0, "values": {}}
            return self._cached

    def save(self, values: dict[str, t.Any]) -> int:
        """Write new settings for every worker; return their version.

        Workers may save at once: the version is read and written under an
        exclusive lock of the file, and the file replaced atomically, so that
        no worker ever reads half of it.
        """
        with open(self.path.with_suffix(".lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                version = int(json.loads(self.path.read_text())["version"]) + 1
            except FileNotFoundError:
                version = 1
            with tempfile.NamedTemporaryFile(
                "w", dir=self.path.parent, delete=False
            ) as new:
                json.dump({"version": version, "values": values}, new)
            Path(new.name).replace(self.path)
        return version

    def drop(self) -> None:
        """Forget the cached settings: the next :meth:`get` reads the file."""
        with self._lock:
            self._cached = None


def init_app(app: Flask, relay: Relay) -> SettingsCache:
    """Cache ``app``'s settings, stored in ``app.config["SETTINGS_PATH"]``.

    :param app: The app; the cache is ``app.extensions["settings_cache"]``.
    :param relay: The app's relay, which carries the extension's signals
        between workers. The app starts it with ``anysignal.flask.init_relay``.
    """
    cache = SettingsCache(Path(app.config["SETTINGS_PATH"]))
    app.extensions["settings_cache"] = cache
    relay.add(settings_changed, settings_applied)
    # For local and remote events alike: the worker that saved drops its copy
    # too. Held strongly by the signal: it lives as long as the app.
    settings_changed.connect(_drop_cached_settings, weak=False)
    return cache


def save_settings(values: dict[str, t.Any]) -> int:
    """Save new settings in a view, and tell every worker; return the version."""
    cache: SettingsCache = current_app.extensions["settings_cache"]
    version = cache.save(values)
    anysignal.flask.send(settings_changed, version=version, sent_at=time.time())
    return version


def _drop_cached_settings(sender: object, /, *, version: int, sent_at: float) -> None:
    # Runs in an app context: in the request's thread for the worker that
    # saved, in the relay's listening thread for the others.
    current_app.extensions["settings_cache"].drop()
    anysignal.flask.send(
        settings_applied,
        version=version,
        pid=os.getpid(),
        sender_pid=sender.pid if isinstance(sender, Origin) else os.getpid(),
        sent_at=sent_at,
        applied_at=time.time(),
    )
