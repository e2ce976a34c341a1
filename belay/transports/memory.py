"""An in-memory transport: the host side of a pipe whose board side a test scripts.

>>> transport, board = MemoryTransport.pair()
>>> # board.feed(b"raw REPL; CTRL-B to exit\\r\\n>") ; await board.sent() -> what the host wrote
"""

from __future__ import annotations

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from belay.errors import ConnectionLostError
from belay.transports.base import Transport


class BoardEnd:
    """The board's side of a :class:`MemoryTransport`: feed bytes to the host, read its writes."""

    def __init__(
        self, to_host: MemoryObjectSendStream[bytes], from_host: MemoryObjectReceiveStream[bytes]
    ) -> None:
        self._to_host = to_host
        self._from_host = from_host

    def feed(self, data: bytes) -> None:
        """Make ``data`` arrive at the host."""
        self._to_host.send_nowait(data)

    async def sent(self) -> bytes:
        """Wait for the host's next write."""
        return await self._from_host.receive()

    def sent_nowait(self) -> bytes:
        """Everything the host has written and nobody read yet."""
        chunks = bytearray()
        while True:
            try:
                chunks += self._from_host.receive_nowait()
            except (anyio.WouldBlock, anyio.EndOfStream):
                return bytes(chunks)

    def disconnect(self) -> None:
        """The board goes away: the host's next receive raises ConnectionLostError."""
        self._to_host.close()


class MemoryTransport(Transport):
    """Host side of an in-memory byte pipe."""

    def __init__(
        self, incoming: MemoryObjectReceiveStream[bytes], outgoing: MemoryObjectSendStream[bytes]
    ) -> None:
        self.port = "memory"
        self._incoming = incoming
        self._outgoing = outgoing
        self._pending = bytearray()

    @classmethod
    def pair(cls) -> tuple[MemoryTransport, BoardEnd]:
        to_host_send, to_host_receive = anyio.create_memory_object_stream[bytes](1024)
        from_host_send, from_host_receive = anyio.create_memory_object_stream[bytes](1024)
        return cls(to_host_receive, from_host_send), BoardEnd(to_host_send, from_host_receive)

    async def send(self, data: bytes) -> None:
        try:
            await self._outgoing.send(data)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError) as error:
            raise ConnectionLostError("memory board is gone", port=self.port) from error

    async def receive(self, max_bytes: int = 65536) -> bytes:
        if not self._pending:
            try:
                self._pending += await self._incoming.receive()
            except (anyio.EndOfStream, anyio.ClosedResourceError) as error:
                raise ConnectionLostError("memory board is gone", port=self.port) from error
        return self._take(max_bytes)

    def receive_nowait(self, max_bytes: int = 65536) -> bytes:
        while True:
            try:
                self._pending += self._incoming.receive_nowait()
            except (anyio.WouldBlock, anyio.EndOfStream, anyio.ClosedResourceError):
                return self._take(max_bytes)

    def _take(self, max_bytes: int) -> bytes:
        data = bytes(self._pending[:max_bytes])
        del self._pending[:max_bytes]
        return data

    async def aclose(self) -> None:
        self._outgoing.close()
        self._incoming.close()
