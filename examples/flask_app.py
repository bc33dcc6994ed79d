"""A tiny Flask app using the audit extension."""

from __future__ import annotations

from flask import Flask

import anysignal.flask
import audit


def create_app(database: str) -> Flask:
    app = Flask(__name__)
    audit.init_app(app, database).subscribers.append(audit.print_subscriber)
    anysignal.flask.relay_builtin_signals(app)

    @app.post("/notes/<int:note_id>")
    def save_note(note_id: int) -> dict[str, list[str]]:
        results = anysignal.flask.send(
            audit.record_saved, table="notes", record_id=note_id
        )
        return {"receivers": [receiver.__name__ for receiver, _ in results]}

    return app
