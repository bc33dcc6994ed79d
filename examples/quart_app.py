"""A tiny Quart app using the very same audit extension."""

from __future__ import annotations

from quart import Quart

import anysignal.quart
import audit


def create_app(database: str) -> Quart:
    app = Quart(__name__)
    audit.init_app(app, database).subscribers.append(audit.print_subscriber)
    anysignal.quart.relay_builtin_signals(app)

    @app.post("/notes/<int:note_id>")
    async def save_note(note_id: int) -> dict[str, list[str]]:
        results = await anysignal.quart.send(
            audit.record_saved, table="notes", record_id=note_id
        )
        return {"receivers": [receiver.__name__ for receiver, _ in results]}

    return app
