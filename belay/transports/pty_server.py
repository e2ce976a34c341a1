"""Serve an open board on a new pseudo-terminal, so any serial tool can use it.

mpremote, Thonny, picocom or a second belay open the pty's path as if it were the board's
serial port::

    async with serve_on_pty(await UnixBoard.start()) as path:
        subprocess.run(["mpremote", "connect", path, "resume", "exec", "print(1)"])

or, in a task group: ``path = await task_group.start(PtyServer(board).serve)``.

The server holds the pty's client end open itself, so clients may come and go. A board
that reboots keeps being served: the virtual boards say ``soft reboot`` and come back to the
prompt they were at, as a board on a UART does, so a client waiting for that (mpremote's
soft reset) sees it; a ``ConnectionLostError(rebooted=True)`` is served through too. A
board lost for good ends the server and closes the pty. The board's transport is the
caller's to close.
"""

from __future__ import annotations

import contextlib
import logging
import os
import pty
import termios
from collections.abc import AsyncIterator

import anyio
from anyio.abc import TaskStatus

from belay.errors import ConnectionLostError
from belay.transports.base import Transport
from belay.transports.fd_stream import FdStream

logger = logging.getLogger(__name__)

STALL_TIMEOUT = 1.0
"""Seconds the board's output may wait for a client to read before the unread bytes are dropped."""

_CHUNK = 4096

# Indexes into a termios attribute list.
_IFLAG, _OFLAG, _CFLAG, _LFLAG, _CC = 0, 1, 2, 3, 6
_IFLAG_OFF = (
    termios.IGNBRK | termios.BRKINT | termios.PARMRK | termios.ISTRIP | termios.INLCR
    | termios.IGNCR | termios.ICRNL | termios.IXON | termios.IXOFF | termios.IXANY | termios.INPCK
)  # fmt: skip
_LFLAG_OFF = termios.ECHO | termios.ECHONL | termios.ICANON | termios.ISIG | termios.IEXTEN


def open_client_pty() -> tuple[int, int, str]:
    """A pty pair whose client end is fully raw: 8-bit clean, no echo, no signals, no CR/LF
    mapping, no flow control. Returns ``(master, slave, slave_path)``."""
    master, slave = pty.openpty()
    try:
        attrs = termios.tcgetattr(slave)
        attrs[_IFLAG] &= ~_IFLAG_OFF
        attrs[_OFLAG] &= ~termios.OPOST
        attrs[_CFLAG] = (attrs[_CFLAG] & ~(termios.CSIZE | termios.PARENB)) | termios.CS8 | termios.CREAD
        attrs[_LFLAG] &= ~_LFLAG_OFF
        attrs[_CC][termios.VMIN] = 1
        attrs[_CC][termios.VTIME] = 0
        termios.tcsetattr(slave, termios.TCSANOW, attrs)
        return master, slave, os.ttyname(slave)
    except BaseException:
        os.close(master)
        os.close(slave)
        raise


class PtyServer:
    """Relays bytes between one open :class:`Transport` and a new pseudo-terminal.

    ``path`` is the pty's path once :meth:`serve` has started; ``lost`` is the error that
    ended serving when the board went away for good; ``stopped`` is set when serving ends.
    """

    def __init__(self, transport: Transport, *, stall_timeout: float = STALL_TIMEOUT) -> None:
        self.transport = transport
        self.stall_timeout = stall_timeout
        self.path: str | None = None
        self.lost: ConnectionLostError | None = None
        self.stopped = anyio.Event()
        self._slave = -1
        self._next_send = 0.0

    async def serve(self, *, task_status: TaskStatus[str] = anyio.TASK_STATUS_IGNORED) -> None:
        """Open the pty, report its path through ``task_status`` and relay until the board is
        lost or the caller cancels; the pty is closed on the way out."""
        master_fd, self._slave, path = open_client_pty()
        master = FdStream(master_fd, path)
        self.path = path
        logger.info("serving %s on %s", self.transport.port, path)
        try:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(self._client_to_board, master, tasks.cancel_scope)
                tasks.start_soon(self._board_to_client, master, tasks.cancel_scope)
                task_status.started(path)
        finally:
            master.close()
            os.close(master_fd)
            os.close(self._slave)
            self.stopped.set()
            logger.info("stopped serving %s on %s", self.transport.port, path)

    async def _client_to_board(self, master: FdStream, scope: anyio.CancelScope) -> None:
        try:
            while True:
                data = await master.read(_CHUNK)
                try:
                    await self._to_board(data)
                except ConnectionLostError as error:
                    if self._gone_for_good(error):
                        break
        except ConnectionLostError as error:  # the pty itself failed: nothing left to serve
            logger.error("pty %s failed: %s", self.path, error)
        scope.cancel()

    async def _board_to_client(self, master: FdStream, scope: anyio.CancelScope) -> None:
        while True:
            try:
                data = await self.transport.receive(_CHUNK)
            except ConnectionLostError as error:
                if self._gone_for_good(error):
                    break
                continue
            await self._to_client(master, data)
        scope.cancel()

    async def _to_board(self, data: bytes) -> None:
        """Send to the board at most ``pacing.chunk_size`` bytes per ``pacing.delay`` where the
        board has a pacing (the micro:bit's UART drops what comes faster), whatever the client
        writes."""
        pacing = self.transport.pacing
        if pacing is None:
            await self.transport.send(data)
            return
        for start in range(0, len(data), pacing.chunk_size):
            await anyio.sleep_until(self._next_send)
            await self.transport.send(data[start : start + pacing.chunk_size])
            self._next_send = anyio.current_time() + pacing.delay

    def _gone_for_good(self, error: ConnectionLostError) -> bool:
        """A reboot is served through; any other loss ends serving (and is kept in ``lost``)."""
        if error.rebooted:
            logger.info("board on %s rebooted; still serving %s", self.transport.port, self.path)
            return False
        if self.lost is None:
            self.lost = error
            logger.warning("board on %s lost; closing %s: %s", self.transport.port, self.path, error)
        return True

    async def _to_client(self, master: FdStream, data: bytes) -> None:
        """Write to the client; drop what no client reads within ``stall_timeout`` s."""
        with anyio.move_on_after(self.stall_timeout) as scope:
            await master.write(data)
        if scope.cancelled_caught:
            with contextlib.suppress(termios.error):
                termios.tcflush(self._slave, termios.TCIFLUSH)
            logger.warning("no client read %s for %gs: dropped unread board output", self.path,
                           self.stall_timeout)  # fmt: skip


async def serve(transport: Transport, *, task_status: TaskStatus[str] = anyio.TASK_STATUS_IGNORED) -> None:
    """Serve ``transport`` on a new pty: ``path = await task_group.start(serve, transport)``."""
    await PtyServer(transport).serve(task_status=task_status)


@contextlib.asynccontextmanager
async def serve_on_pty(transport: Transport) -> AsyncIterator[str]:
    """Serve ``transport`` on a new pty for the length of the block; yields the pty's path."""
    async with anyio.create_task_group() as tasks:
        path: str = await tasks.start(serve, transport)
        try:
            yield path
        finally:
            tasks.cancel_scope.cancel()
