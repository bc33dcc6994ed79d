"""A Quart app served by hypercorn with several workers: websocket fan-out.

Run it (Redis on 127.0.0.1:6379, from the examples folder)::

    export RELAY_SECRET=$(python -c 'import secrets; print(secrets.token_hex(32))')
    hypercorn --workers 3 --bind 127.0.0.1:8000 quart_deployed:app

then open websockets on ``ws://127.0.0.1:8000/ws`` and post a message with
``curl -H 'Content-Type: application/json' -d '{"text": "hello"}'
127.0.0.1:8000/messages``: every websocket, on every worker, gets ``hello``.

hypercorn starts each worker as a new process that imports this module, so
each makes its own relay; ``anysignal.quart.init_relay`` listens while the
worker serves, and stops cleanly when hypercorn shuts the worker down.
"""

from __future__ import annotations

import logging
import os
import typing as t

from quart import Quart, abort, request

import anysignal.quart
import broadcast
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
    prefix=os.environ.get("RELAY_PREFIX", "broadcast-demo:"),
    secret=os.environ["RELAY_SECRET"],  # the same in every process of the app
)

app = Quart(__name__)
broadcast.init_app(app, relay)
anysignal.quart.init_relay(app, relay)


@app.post("/messages")
async def post_message() -> dict[str, t.Any]:
    body = await request.get_json()
    if not isinstance(body, dict) or not isinstance(body.get("text"), str):
        abort(400, 'post a JSON object such as {"text": "hello"}')
    await broadcast.post(body["text"])
    return {"pid": os.getpid(), "websockets_here": app.extensions["broadcaster"].open}


@app.websocket("/ws")
async def messages() -> None:
    await app.extensions["broadcaster"].serve()
