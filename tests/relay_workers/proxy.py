"""A TCP proxy in front of Redis that can freeze, as a dead peer or a partition.

Frozen, it keeps every connection open but forwards nothing, either way, and
accepts new connections that go nowhere: to the relay, exactly a peer that
vanished without closing anything (a half-open connection), or a network
partition. It runs on its own event loop, in a thread.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import anyio
import anyio.abc
import anyio.from_thread
from anyio.abc import SocketAttribute


@contextlib.contextmanager
def tcp_proxy(target_port: int) -> Iterator[TcpProxy]:
    """Run a :class:`TcpProxy` to 127.0.0.1:``target_port`` in a thread."""
    with anyio.from_thread.start_blocking_portal() as portal:
        proxy = TcpProxy(target_port, portal)
        _, scope = portal.start_task(proxy.serve)
        try:
            yield proxy
        finally:
            proxy.thaw()  # so that no pump waits forever
            portal.call(scope.cancel)


class TcpProxy:
    """Forwards 127.0.0.1:``port`` to 127.0.0.1:``target_port``, until frozen.

    :param target_port: The port of the server to forward to.
    :param portal: Runs the proxy's tasks on its event loop.
    """

    def __init__(
        self, target_port: int, portal: anyio.from_thread.BlockingPortal
    ) -> None:
        self._target_port = target_port
        self._portal = portal
        self.port = 0
        self._thawed: anyio.Event | None = None

    def url(self, db: int = 0) -> str:
        """The Redis URL that goes through this proxy."""
        return f"redis://127.0.0.1:{self.port}/{db}"

    def freeze(self) -> None:
        """Stop forwarding bytes, keeping every connection open."""
        self._portal.call(self._freeze)

    def thaw(self) -> None:
        """Forward bytes again, those held back first."""
        self._portal.call(self._thaw)

    async def serve(
        self, *, task_status: anyio.abc.TaskStatus[anyio.CancelScope]
    ) -> None:
        """Accept and forward connections until cancelled through the scope."""
        with anyio.CancelScope() as scope:
            listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
            async with listener:
                self.port = listener.extra(SocketAttribute.local_port)
                task_status.started(scope)
                await listener.serve(self._handle)

    async def _freeze(self) -> None:
        self._thawed = anyio.Event()

    async def _thaw(self) -> None:
        if self._thawed is not None:
            self._thawed.set()
        self._thawed = None

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
