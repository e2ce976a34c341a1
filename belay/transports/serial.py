"""A board on a serial line: any device path or pyserial URL (``rfc2217://``, ``socket://``).

On POSIX a tty is read by waiting on its file descriptor; URL ports without one are read
in a worker thread. Device paths are opened exclusively, so a second opener gets
:class:`~belay.errors.PortBusyError`.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat
import termios
import threading
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import anyio
import anyio.to_thread
import serial

from belay.errors import ConnectionLostError, PortBusyError, PortNotFoundError, TransportError
from belay.transports.base import Pacing, Transport
from belay.transports.fd_stream import FdStream

logger = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")

DEFAULT_BAUDRATE = 115200
UART_PACING = Pacing(chunk_size=256, delay=0.01)


def _check_device_path(port: str) -> None:
    try:
        mode = os.stat(port).st_mode
    except FileNotFoundError:
        raise PortNotFoundError(f"no such port: {port}", port=port) from None
    except OSError as error:
        raise PortNotFoundError(f"cannot use port {port}: {error.strerror}", port=port) from error
    if not stat.S_ISCHR(mode):
        kind = "a directory" if stat.S_ISDIR(mode) else "not a character device"
        raise PortNotFoundError(f"{port} is {kind}, not a serial port", port=port)


def _open_serial(port: str, baudrate: int) -> serial.Serial:
    is_url = "://" in port
    if not is_url:
        _check_device_path(port)
    try:
        if is_url:
            return serial.serial_for_url(port, baudrate=baudrate, timeout=0.05)
        return serial.Serial(port, baudrate=baudrate, timeout=0, exclusive=True)
    except serial.SerialException as error:
        raise _translate_open_error(port, error) from error
    except ValueError as error:
        raise PortNotFoundError(f"cannot open {port}: {error}", port=port) from error


def _translate_open_error(port: str, error: serial.SerialException) -> TransportError:
    text = str(error)
    code = getattr(error, "errno", None)
    if "exclusively lock" in text or code in (errno.EBUSY, errno.EAGAIN):
        return PortBusyError(f"{port} is busy: another process has it open", port=port)
    if code == errno.ENOTTY or "Inappropriate ioctl" in text:  # pyserial drops the errno here
        return PortNotFoundError(f"{port} is not a serial port (not a terminal device)", port=port)
    if code in (errno.ENOENT, errno.ENXIO, errno.ENODEV) or "could not open port" in text:
        return PortNotFoundError(f"cannot open {port}: {text}", port=port)
    return TransportError(f"cannot open {port}: {text}", port=port)


def _read_returns_at_least_one_byte(fd: int) -> None:
    """VMIN=1: an empty read then means hang-up, not "no data yet" (pyserial sets VMIN=0)."""
    with contextlib.suppress(termios.error):
        attrs = termios.tcgetattr(fd)
        attrs[6][termios.VMIN] = 1
        attrs[6][termios.VTIME] = 0
        termios.tcsetattr(fd, termios.TCSANOW, attrs)


class SerialTransport(Transport):
    """pyserial underneath; readiness-driven on a POSIX descriptor, threaded otherwise."""

    def __init__(self, port: str, handle: serial.Serial, *, paced: bool = True) -> None:
        self.port = port
        self.pacing = UART_PACING if paced else None
        self._serial = handle
        self._stream: FdStream | None = None
        self._lock = threading.Lock()
        fd = self._fileno(handle)
        if fd is not None:
            _read_returns_at_least_one_byte(fd)
            self._stream = FdStream(fd, port)

    @classmethod
    async def open(
        cls, port: str, *, baudrate: int = DEFAULT_BAUDRATE, paced: bool = True
    ) -> SerialTransport:
        handle = await anyio.to_thread.run_sync(_open_serial, port, baudrate)
        return cls(port, handle, paced=paced)

    @staticmethod
    def _fileno(handle: serial.Serial) -> int | None:
        if not isinstance(handle, serial.Serial) or os.name != "posix":
            return None
        with contextlib.suppress(AttributeError, OSError, ValueError):
            return int(handle.fileno())
        return None

    async def send(self, data: bytes) -> None:
        if self._stream is not None:
            await self._stream.write(data)
            return
        await anyio.to_thread.run_sync(self._blocking_call, self._serial.write, data)

    async def receive(self, max_bytes: int = 65536) -> bytes:
        if self._stream is not None:
            return await self._stream.read(max_bytes)
        while True:
            data: bytes = await anyio.to_thread.run_sync(self._read_some, max_bytes)
            if data:
                return data

    def receive_nowait(self, max_bytes: int = 65536) -> bytes:
        if self._stream is not None:
            try:
                return self._stream.read_nowait(max_bytes) or b""
            except ConnectionLostError:
                return b""
        with contextlib.suppress(serial.SerialException, OSError):
            waiting = self._serial.in_waiting
            if waiting:
                return bytes(self._blocking_call(self._serial.read, min(waiting, max_bytes)))
        return b""

    def _read_some(self, max_bytes: int) -> bytes:
        """Blocking read with the port's short timeout, so a cancelled wait ends soon."""
        first: bytes = self._blocking_call(self._serial.read, 1)
        if not first:
            return b""
        waiting = self._blocking_call(lambda: self._serial.in_waiting)
        rest: bytes = self._blocking_call(self._serial.read, min(waiting, max_bytes - 1)) if waiting else b""
        return first + rest

    def _blocking_call(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        with self._lock:
            if not self._serial.is_open:
                raise ConnectionLostError(f"{self.port} is closed", port=self.port)
            try:
                return function(*args, **kwargs)
            except (serial.SerialException, OSError) as error:
                raise ConnectionLostError(
                    f"lost the board on {self.port}: {error}", port=self.port
                ) from error

    async def aclose(self) -> None:
        if self._stream is not None:
            self._stream.close()
        with contextlib.suppress(serial.SerialException, OSError):
            self._serial.close()
