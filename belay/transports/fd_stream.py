"""Non-blocking reads and writes on a POSIX file descriptor, waiting on readiness."""

from __future__ import annotations

import contextlib
import errno
import os

import anyio

from belay.errors import ConnectionLostError

_GONE = (errno.EIO, errno.ENXIO, errno.EBADF, errno.ENODEV, errno.EPIPE, errno.ECONNRESET)


class FdStream:
    """Bytes over a non-blocking file descriptor (a pty master, a tty, a serial port).

    The descriptor is owned by the caller; :meth:`close` only forgets it. A read of
    nothing, or an error that means the other end is gone, raises
    :class:`ConnectionLostError`.
    """

    def __init__(self, fd: int, port: str) -> None:
        os.set_blocking(fd, False)
        self.fd = fd
        self.port = port
        self.closed = False

    def read_nowait(self, max_bytes: int) -> bytes | None:
        """What is there now, or ``None`` when nothing is."""
        self._check_open()
        try:
            data = os.read(self.fd, max_bytes)
        except BlockingIOError:
            return None
        except OSError as error:
            if error.errno in _GONE:
                raise self._lost(error) from error
            raise
        if not data:
            raise self._lost(None)
        return data

    async def read(self, max_bytes: int) -> bytes:
        while True:
            data = self.read_nowait(max_bytes)
            if data is not None:
                return data
            try:
                await anyio.wait_readable(self.fd)
            except (anyio.ClosedResourceError, OSError) as error:
                raise self._lost(error) from error

    async def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            self._check_open()
            try:
                written = os.write(self.fd, view)
            except BlockingIOError:
                written = 0
            except OSError as error:
                if error.errno in _GONE:
                    raise self._lost(error) from error
                raise
            view = view[written:]
            if view:
                await anyio.wait_writable(self.fd)

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
