"""Websocket fan-out for a Quart app served by several worker processes.

A browser connects a websocket to whichever worker the server picks. A
message posted to any worker must reach every open websocket, on every
worker: the posting worker sends :data:`message_posted`, the app's relay
carries it to the other workers, and in each one the extension writes it to
every websocket open there.

Only public API: the extension relays its signal on the app's relay.
"""

from __future__ import annotations

import asyncio
import os
import time
import typing as t

from quart import Quart, current_app, websocket

import anysignal.quart
from anysignal import Namespace
from anysignal.relay import Origin, Relay

signals = Namespace()
message_posted = signals.signal(
    "message-posted",
    "A message to show on every websocket. Keyword arguments: ``text``, "
    "``sent_at`` (the sender's ``time.time()``).",
)

_QUEUE_SIZE = 100
"""Messages a slow websocket may fall behind by before it is closed: one slow
browser must not make its worker hold every message for it."""


class Broadcaster:
    """The websockets open in this worker, each with the queue it sends from."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[dict[str, t.Any]]] = set()

    @property
    def open(self) -> int:
        """How many websockets are open in this worker."""
        return len(self._queues)

    def deliver(self, message: dict[str, t.Any]) -> None:
        """Queue ``message`` for every websocket open in this worker."""
        for queue in list(self._queues):
            try:
                queue.put_nowait(message)
            except asyncio.QueueFull:
                self._queues.discard(queue)  # serve() sees it and closes

    async def serve(self) -> None:
        """Send this worker's pid, then every message, on the current websocket."""
        queue: asyncio.Queue[dict[str, t.Any]] = asyncio.Queue(_QUEUE_SIZE)
        self._queues.add(queue)
        try:
            await websocket.send_json({"hello": os.getpid()})
            while queue in self._queues:
                await websocket.send_json(await queue.get())
            await websocket.close(1008, "too slow: messages were dropped")
        finally:
            self._queues.discard(queue)


def init_app(app: Quart, relay: Relay) -> Broadcaster:
    """Fan ``app``'s messages out to its websockets, in every worker.

    :param app: The app; the broadcaster is ``app.extensions["broadcaster"]``.
    :param relay: The app's relay. The app starts it with
        ``anysignal.quart.init_relay``.
    """
    broadcaster = Broadcaster()
    app.extensions["broadcaster"] = broadcaster
    relay.add(message_posted)
    message_posted.connect(_fan_out, weak=False)
    return broadcaster


async def post(text: str) -> None:
    """Post ``text`` to every websocket of every worker, from a view."""
    await anysignal.quart.send(message_posted, text=text, sent_at=time.time())


async def _fan_out(sender: object, /, *, text: str, sent_at: float) -> None:
    # On the event loop, in an app context, for local and remote events alike.
    broadcaster: Broadcaster = current_app.extensions["broadcaster"]
    broadcaster.deliver(
        {
            "text": text,
            "sender_pid": sender.pid if isinstance(sender, Origin) else os.getpid(),
            "sent_at": sent_at,
            "worker_pid": os.getpid(),
            "received_at": time.time(),
        }
    )
