"""A TCP proxy in front of Redis that can freeze, as a dead peer or a partition.

Frozen, it keeps every connection open but forwards nothing, either way, and
accepts new connections that go nowhere: to the relay, exactly a peer that
vanished without closing anything (a half-open connection), or a network
partition. It runs on its own event loop, in a thread.
"""

from __future__ import annotations

import contextlib
from types import TracebackType

import anyio
import anyio.abc
import anyio.from_thread
from anyio.abc import SocketAttribute


class TcpProxy:
    """Forwards 127.0.0.1:``port`` to 127.0.0.1:``target_port``, until frozen.

    :param target_port: The port of the server to forward to.
    """

    def __init__(self, target_port: int) -> None:
        self._target_port = target_port
        self.port = 0
        self._portal_cm = anyio.from_thread.start_blocking_portal()
        self._portal: anyio.from_thread.BlockingPortal | None = None
        self._thawed: anyio.Event | None = None
        self._scope: anyio.CancelScope | None = None

    def url(self, db: int = 0) -> str:
        """The Redis URL that goes through this proxy."""
        return f"redis://127.0.0.1:{self.port}/{db}"

    def __enter__(self) -> TcpProxy:
        self._portal = self._portal_cm.__enter__()
        self._portal.start_task_soon(self._serve)
        while not self.port:  # set by _serve once listening
            self._portal.call(anyio.sleep, 0.01)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        assert self._portal is not None
        self._portal.call(self._stop)
        self._portal_cm.__exit__(exc_type, exc, tb)

    def freeze(self) -> None:
        """Stop forwarding bytes, keeping every connection open."""
        assert self._portal is not None
        self._portal.call(self._freeze)

    def thaw(self) -> None:
        """Forward bytes again, those held back first."""
        assert self._portal is not None
        self._portal.call(self._thaw)

    async def _freeze(self) -> None:
        self._thawed = anyio.Event()

    async def _thaw(self) -> None:
        if self._thawed is not None:
            self._thawed.set()
        self._thawed = None

    async def _stop(self) -> None:
        await self._thaw()
        if self._scope is not None:
            self._scope.cancel()

    async def _serve(self) -> None:
        with anyio.CancelScope() as self._scope:
            listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
            async with listener:
                self.port = listener.extra(SocketAttribute.local_port)
                await listener.serve(self._handle)

    async def _handle(self, client: anyio.abc.SocketStream) -> None:
        with contextlib.suppress(OSError, anyio.BrokenResourceError):
            async with (
                client,
                await self._connect_upstream() as upstream,
                anyio.create_task_group() as tasks,
            ):
                tasks.start_soon(self._pump, client, upstream, tasks.cancel_scope)
                tasks.start_soon(self._pump, upstream, client, tasks.cancel_scope)

    async def _connect_upstream(self) -> anyio.abc.SocketStream:
        # A connection made while frozen goes nowhere until the thaw.
        while self._thawed is not None:
            await self._thawed.wait()
        return await anyio.connect_tcp("127.0.0.1", self._target_port)

    async def _pump(
        self,
        source: anyio.abc.SocketStream,
        sink: anyio.abc.SocketStream,
        both: anyio.CancelScope,
    ) -> None:
        try:
            async for chunk in source:
                while self._thawed is not None:
                    await self._thawed.wait()
                await sink.send(chunk)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            pass
        both.cancel()  # one side closed: close the other
