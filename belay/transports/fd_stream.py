"""Non-blocking reads and writes on a POSIX file descriptor, waiting on readiness."""

from __future__ import annotations

import contextlib
import os
import select
from collections.abc import Callable

import anyio

from belay.errors import ConnectionLostError


class FdStream:
    """Bytes over a non-blocking file descriptor (a pty master, a tty, a serial port).

    The descriptor is owned by the caller; :meth:`close` only forgets it. A read of
    nothing, or any error reading or writing (the other end gone, a network port reset or
    refused: ``EIO``, ``EPIPE``, ``ECONNRESET``, ``ETIMEDOUT``, ...), raises
    :class:`ConnectionLostError`, never a bare :class:`OSError`.
    """

    def __init__(self, fd: int, port: str) -> None:
        os.set_blocking(fd, False)
        self.fd = fd
        self.port = port
        self.closed = False
        self._just_wrote = False

    def read_nowait(self, max_bytes: int) -> bytes | None:
        """What is there now, or ``None`` when nothing is."""
        self._check_open()
        try:
            data = os.read(self.fd, max_bytes)
        except BlockingIOError:
            return None
        except OSError as error:
            raise self._lost(error) from error
        if not data:
            raise self._lost(None)
        return data

    async def read(self, max_bytes: int) -> bytes:
        """At least one byte. Right after a write the answer cannot be there yet: the first
        read waits for readiness instead of making a syscall that would find nothing."""
        if self._just_wrote:
            self._just_wrote = False
            await self._wait_readable()
        while True:
            data = self.read_nowait(max_bytes)
            if data is not None:
                return data
            await self._wait_readable()

    async def _wait_readable(self) -> None:
        try:
            await anyio.wait_readable(self.fd)
        except (anyio.ClosedResourceError, OSError) as error:
            raise self._lost(error) from error

    async def write(self, data: bytes, *, alive: Callable[[], bool] | None = None) -> None:
        """Write all of ``data``; ``alive`` (if given) is asked whenever the fd makes the writer
        wait: a pty whose process died stays "writable" (hung up) and full for good."""
        view = memoryview(data)
        while view:
            self._check_open()
            try:
                written = os.write(self.fd, view)
            except BlockingIOError:
                written = 0
            except OSError as error:
                raise self._lost(error) from error
            view = view[written:]
            self._just_wrote = True
            if view:
                try:
                    await anyio.wait_writable(self.fd)
                except (anyio.ClosedResourceError, OSError) as error:
                    raise self._lost(error) from error
                if alive is not None and not alive():
                    raise self._lost(None)

    def hung_up(self) -> bool:
        """Whether the other end has hung up (a USB board unplugged, a pty's board gone), told
        without reading anything; data still waiting to be read hides nothing."""
        if self.closed:
            return True
        poller = select.poll()
        poller.register(self.fd, select.POLLIN)
        try:
            events = poller.poll(0)
        except OSError:
            return True
        return any(mask & (select.POLLHUP | select.POLLERR | select.POLLNVAL) for _, mask in events)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            with contextlib.suppress(Exception):  # no event loop: nobody can be waiting on it
                anyio.notify_closing(self.fd)

    def _check_open(self) -> None:
        if self.closed:
            raise ConnectionLostError(f"{self.port} is closed", port=self.port)

    def _lost(self, error: BaseException | None) -> ConnectionLostError:
        reason = "end of stream" if error is None else str(error)
        return ConnectionLostError(f"lost the board on {self.port}: {reason}", port=self.port)
