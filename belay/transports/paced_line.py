"""A simulated UART line in front of a board: bytes paced both ways as an 8N1 line at a baud rate.

Ten bits a byte: at 115200 baud a byte takes 86.8 us, 11,520 bytes a second each way, and
each byte is handed over when its last bit would have arrived. Like a real USB-serial
adapter, the host's writes go into a buffer (:data:`TX_BUFFER` bytes) that drains at line
rate: :meth:`PacedLine.send` returns once its bytes are in that buffer, waiting while it is
full, and what was written goes out in order whatever the writer does next. So a Ctrl-C
written after a long call arrives *behind* the call's bytes still in the buffer, and the
board (a unix board turns a Ctrl-C it receives into a SIGINT) sees it only then.

No task runs in the background: bytes reach the board whenever a caller is in :meth:`send`
or :meth:`receive` and their time has come (a :meth:`receive` in progress wakes for them;
a :meth:`send` moves its waiting reader's deadline forward). Between calls nothing is in
flight, so nothing is late.
"""

from __future__ import annotations

import math
from collections import deque

import anyio

from belay.transports.base import Pacing, Transport

BITS_PER_BYTE = 10
"""8N1: a start bit, eight data bits, a stop bit."""

TX_BUFFER = 4096
"""Bytes the host's side of the line buffers (an OS tty buffer, a USB adapter's FIFO)."""

TICK = 0.001
"""Shortest wait between handovers: bytes go in ~1 ms pieces, as USB serial frames them."""


class _Line:
    """One direction: bytes queued with the time the line started on each, handed over as
    each one's last bit arrives."""

    def __init__(self, byte_time: float) -> None:
        self.byte_time = byte_time
        self._segments: deque[tuple[float, bytearray]] = deque()  # (start of its first byte, bytes)
        self._free_at = 0.0  # when the line has sent everything queued
        self.queued = 0

    def add(self, data: bytes, now: float) -> None:
        if not data:
            return
        start = max(now, self._free_at)
        self._segments.append((start, bytearray(data)))
        self._free_at = start + len(data) * self.byte_time
        self.queued += len(data)

    def take_due(self, now: float, max_bytes: int) -> bytes:
        """Every byte whose last bit has arrived by ``now`` (at most ``max_bytes``)."""
        out = bytearray()
        while self._segments and len(out) < max_bytes:
            start, data = self._segments[0]
            due = min(len(data), max_bytes - len(out), int((now - start) / self.byte_time + 1e-9))
            if due <= 0:
                break
            out += data[:due]
            del data[:due]
            if data:
                self._segments[0] = (start + due * self.byte_time, data)
            else:
                self._segments.popleft()
        self.queued -= len(out)
        return bytes(out)

    def next_due(self, now: float) -> float:
        """When the next byte arrives (not sooner than a tick from ``now``); ``inf`` if none."""
        if not self._segments:
            return math.inf
        return max(self._segments[0][0] + self.byte_time, now + TICK)


class PacedLine(Transport):
    """``inner`` behind a simulated line at ``baud``: what a board on a real UART feels like."""

    def __init__(self, inner: Transport, baud: int, *, tx_buffer: int = TX_BUFFER) -> None:
        if baud <= 0:
            raise ValueError(f"a baud rate is a positive number of bits a second, not {baud}")
        self.inner = inner
        self.baud = baud
        self.port = f"{inner.port}?baud={baud}"
        self.pacing: Pacing | None = inner.pacing
        self.tx_buffer = tx_buffer
        byte_time = BITS_PER_BYTE / baud
        self._tx = _Line(byte_time)
        self._rx = _Line(byte_time)
        self._deliver_lock = anyio.Lock()
        self._reader: anyio.CancelScope | None = None

    @property
    def generation(self) -> int:
        return self.inner.generation

    @property
    def bytes_per_second(self) -> float:
        return self.baud / BITS_PER_BYTE

    async def send(self, data: bytes) -> None:
        """Queue ``data`` on the line, waiting while the host's buffer is full."""
        view = memoryview(data)
        while view:
            room = self.tx_buffer - self._tx.queued
            if room > 0:
                self._tx.add(bytes(view[:room]), anyio.current_time())
                view = view[room:]
                self._wake_reader()
                continue
            await anyio.sleep_until(self._tx.next_due(anyio.current_time()))
            await self._deliver_due()
        await self._deliver_due()

    async def drain(self) -> None:
        """Wait until every byte sent has reached the board."""
        while self._tx.queued:
            await anyio.sleep_until(self._tx.next_due(anyio.current_time()))
            await self._deliver_due()

    async def receive(self, max_bytes: int = 65536) -> bytes:
        while True:
            await self._deliver_due()
            self._rx.add(self.inner.receive_nowait(), anyio.current_time())
            now = anyio.current_time()
            ready = self._rx.take_due(now, max_bytes)
            if ready:
                return ready
            wake = min(self._tx.next_due(now), self._rx.next_due(now))
            with anyio.CancelScope(deadline=wake) as scope:
                self._reader = scope
                try:
                    data = await self.inner.receive()
                finally:
                    self._reader = None
                self._rx.add(data, anyio.current_time())

    def receive_nowait(self, max_bytes: int = 65536) -> bytes:
        now = anyio.current_time()
        self._rx.add(self.inner.receive_nowait(), now)
        return self._rx.take_due(now, max_bytes)

    def _wake_reader(self) -> None:
        """A reader waiting on the board only is woken when new bytes are due to go out."""
        if self._reader is not None:
            self._reader.deadline = min(self._reader.deadline, self._tx.next_due(anyio.current_time()))

    async def _deliver_due(self) -> None:
        """Hand the board every byte whose time has come, in order (shielded: a byte taken off
        the line is never lost to a cancelled caller)."""
        with anyio.CancelScope(shield=True):
            async with self._deliver_lock:
                due = self._tx.take_due(anyio.current_time(), self.tx_buffer)
                if due:
                    await self.inner.send(due)

    async def aclose(self) -> None:
        await self.inner.aclose()
