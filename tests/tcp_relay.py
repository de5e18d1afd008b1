"""A TCP relay between the driver and the test Neo4j that can drop every connection,
as a firewall's idle timeout or a load balancer's restart does to a pooled one."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from urllib.parse import urlsplit


class TcpRelay:
    """Relays connections to `target` (host, port) while running (`relaying`)."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = 0
        self.connections_opened = 0
        # While set, every new connection is closed at once (Neo4j gone for good).
        self.dropping_new = False
        self._writers: set[asyncio.StreamWriter] = set()

    @classmethod
    def to(cls, uri: str) -> TcpRelay:
        parts = urlsplit(uri)
        assert parts.hostname and parts.port, uri
        return cls((parts.hostname, parts.port))

    @property
    def uri(self) -> str:
        return f"bolt://127.0.0.1:{self.port}"

    @contextlib.asynccontextmanager
    async def relaying(self) -> AsyncIterator[TcpRelay]:
        server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        try:
            yield self
        finally:
            self.sever()
            server.close()
            await server.wait_closed()

    def sever(self) -> None:
        """Close every relayed connection, both ends, without a goodbye."""
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _relay(
        self, client_reader: asyncio.StreamReader, client: asyncio.StreamWriter
    ) -> None:
        self.connections_opened += 1
        if self.dropping_new:
            client.transport.abort()
            return
        server_reader, server = await asyncio.open_connection(*self.target)
        self._writers |= {client, server}
        await asyncio.gather(_pump(client_reader, server), _pump(server_reader, client))


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.transport.abort()
