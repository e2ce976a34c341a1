"""A board on a serial line: any device path or pyserial URL (``rfc2217://``, ``socket://``).

On POSIX a tty, and the TCP socket of a ``socket://`` port (opened here: pyserial's client
drops what a server says first, such as ser2net's "Port already in use"), are read by waiting
on their file descriptor, as much as has arrived at once; ``rfc2217://`` is a TCP socket too,
its Telnet framing undone in large slices (:mod:`belay.transports.telnet`; pyserial's own
client hands over one byte at a time through a queue); other URL ports are read in a worker
thread.
Device paths are opened exclusively, so a second opener gets
:class:`~belay.errors.PortBusyError` naming the holder where Linux's ``/proc`` tells.

Opening a port resets no board (:mod:`belay.transports.modem_lines`: DTR and RTS as mpremote
sets them, or as :class:`~belay.transports.base.ModemLines` asks).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import socket
import stat
import termios
import threading
from collections.abc import Callable
from typing import ParamSpec, TypeVar
from urllib.parse import parse_qs, urlsplit

import anyio
import anyio.to_thread
import serial

from belay.errors import ConnectionLostError, PortBusyError, PortNotFoundError, TransportError
from belay.transports import telnet
from belay.transports.base import DEFAULT_LINES, ModemLines, Pacing, Transport
from belay.transports.fd_stream import FdStream
from belay.transports.holders import busy_message
from belay.transports.modem_lines import open_device_path, release_lines

logger = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")

DEFAULT_BAUDRATE = 115200
UART_PACING = Pacing(chunk_size=256, delay=0.01)
CONNECT_TIMEOUT = 5.0
"""Seconds a network port (``socket://``, ``rfc2217://``) gets to accept the connection."""
NEGOTIATION_TIMEOUT = 2.0
"""Seconds an RFC 2217 server gets to accept the COM port option before settings are sent anyway."""
QUICKACK: int | None = getattr(socket, "TCP_QUICKACK", None)
"""Linux's option to acknowledge what arrived at once (it lapses; set again after each read)."""
RFC2217_OPTIONS = frozenset({"logging", "ign_set_control", "poll_modem", "timeout"})
"""pyserial's ``rfc2217://`` URL options: accepted, and meaningless to this client."""
SOCKET_OPTIONS = frozenset({"logging"})
"""pyserial's ``socket://`` URL option, the same."""


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


def _open_serial(
    port: str,
    baudrate: int,
    lines: ModemLines = DEFAULT_LINES,
    serial_class: type[serial.Serial] = serial.Serial,
) -> serial.SerialBase:
    is_url = "://" in port
    if not is_url:
        _check_device_path(port)
    try:
        if is_url:
            return serial.serial_for_url(port, baudrate=baudrate, timeout=0.05)
        return open_device_path(port, baudrate, lines, serial_class)
    except serial.SerialException as error:
        raise _translate_open_error(port, error) from error
    except ValueError as error:
        raise PortNotFoundError(f"cannot open {port}: {error}", port=port) from error


def _translate_open_error(port: str, error: serial.SerialException) -> TransportError:
    text = str(error)
    code = getattr(error, "errno", None)
    if "exclusively lock" in text or code in (errno.EBUSY, errno.EAGAIN):
        return PortBusyError(f"{port} is busy: {busy_message(port)}", port=port)
    if code == errno.ENOTTY or "Inappropriate ioctl" in text:  # pyserial drops the errno here
        return PortNotFoundError(f"{port} is not a serial port (not a terminal device)", port=port)
    if code in (errno.ENOENT, errno.ENXIO, errno.ENODEV) or "could not open port" in text:
        return PortNotFoundError(f"cannot open {port}: {text}", port=port)
    return TransportError(f"cannot open {port}: {text}", port=port)


def _network_address(port: str) -> tuple[str, int]:
    """``(host, port)`` of an ``rfc2217://`` or ``socket://host:port[?option...]`` URL, or
    PortNotFoundError."""
    parts = urlsplit(port)
    known = RFC2217_OPTIONS if parts.scheme.lower() == "rfc2217" else SOCKET_OPTIONS
    unknown = set(parse_qs(parts.query, keep_blank_values=True)) - known
    try:
        number = parts.port
    except ValueError:
        number = None
    if not parts.hostname or number is None or unknown:
        why = f"unknown option {sorted(unknown)[0]!r}" if unknown else f"expected {parts.scheme}://host:port"
        raise PortNotFoundError(f"cannot open {port}: {why}", port=port)
    return parts.hostname, number


def _connect(port: str) -> socket.socket:
    """A connected TCP socket to a network port (:class:`SocketStream` tunes it)."""
    address = _network_address(port)
    try:
        connection = socket.create_connection(address, timeout=CONNECT_TIMEOUT)
    except OSError as error:
        raise PortNotFoundError(f"cannot open {port}: {error}", port=port) from error
    return connection


class SocketStream(FdStream):
    """A connected TCP socket as an :class:`FdStream` (which it owns), tuned for a serial line:
    what is written goes out at once (no Nagle), and what arrives is acknowledged at once, so
    a server that holds back a small last segment until then (socat, Nagle on) is not kept
    waiting for Linux's 40 ms delayed acknowledgement."""

    def __init__(self, connection: socket.socket, port: str) -> None:
        connection.setblocking(False)
        with contextlib.suppress(OSError):
            connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().__init__(connection.fileno(), port)
        self._socket = connection

    def read_nowait(self, max_bytes: int) -> bytes | None:
        data = super().read_nowait(max_bytes)
        if data and QUICKACK is not None:
            with contextlib.suppress(OSError):
                self._socket.setsockopt(socket.IPPROTO_TCP, QUICKACK, 1)
        return data

    def send_nowait(self, data: bytes) -> None:
        """Send what the socket takes now, if it is still open; failures are ignored."""
        if not self.closed:
            with contextlib.suppress(OSError):
                self._socket.send(data)

    def close(self) -> None:
        super().close()
        self._socket.close()


class TelnetStream:
    """An RFC 2217 port's TCP socket with :class:`FdStream`'s interface: the board's bytes in
    and out, Telnet commands answered on the way. It owns the socket."""

    def __init__(self, connection: socket.socket, port: str) -> None:
        self._stream = SocketStream(connection, port)
        self._decoder = telnet.TelnetDecoder()
        self._write_lock = anyio.Lock()
        self._early = b""

    async def negotiate(self, baudrate: int, lines: ModemLines = DEFAULT_LINES) -> None:
        """Ask for binary and the COM port option, wait (a while) for the server's answer,
        then set 8N1 at ``baudrate``; board bytes that arrive meanwhile are kept."""
        await self._write(telnet.rfc2217_preamble())
        with anyio.move_on_after(NEGOTIATION_TIMEOUT):
            while self._decoder.com_port is None:
                self._early += await self._read_decoded(65536)
        if not self._decoder.com_port:
            logger.warning("%s did not accept RFC 2217: its baud rate may differ", self._stream.port)
        await self._write(telnet.rfc2217_settings(baudrate, dtr=lines.dtr, rts=lines.rts))

    @property
    def early(self) -> bytes:
        """Board bytes that arrived during the negotiation and are not read yet."""
        return self._early

    def read_nowait(self, max_bytes: int) -> bytes | None:
        if self._early:
            data, self._early = self._early[:max_bytes], self._early[max_bytes:]
            return data
        while (raw := self._stream.read_nowait(max_bytes)) is not None:
            data = self._decoder.feed(raw)
            if data:
                return data
        return None

    async def read(self, max_bytes: int) -> bytes:
        data = self.read_nowait(max_bytes)
        while not data:
            data = await self._read_decoded(max_bytes)
        return data

    async def write(self, data: bytes) -> None:
        await self._write(telnet.escape(data))

    def close(self) -> None:
        """Release RTS, then DTR, as a local port does on closing (best effort), and close."""
        self._stream.send_nowait(telnet.rfc2217_release())
        self._stream.close()

    async def _read_decoded(self, max_bytes: int) -> bytes:
        """Data from the next chunk; answers it owes go out now unless a write is under way
        (which sends them when done): a reader never waits behind a writer the server is not
        reading from, or neither would move."""
        data = self._decoder.feed(await self._stream.read(max_bytes))
        if self._decoder.owes and not self._write_lock.locked():
            await self._write(b"")
        return data

    async def _write(self, data: bytes) -> None:
        """Write ``data`` after the negotiation answers owed, whole (two tasks may write)."""
        async with self._write_lock:
            await self._stream.write(self._decoder.take_replies() + data)
            while self._decoder.owes:  # owed while this write waited for the server
                await self._stream.write(self._decoder.take_replies())


def _in_waiting(handle: serial.SerialBase) -> int:
    """Bytes a port holds (pyserial's stubs leave ``in_waiting`` to each platform's class)."""
    return int(handle.in_waiting)  # type: ignore[attr-defined]


def _read_returns_at_least_one_byte(fd: int) -> None:
    """VMIN=1: an empty read then means hang-up, not "no data yet" (pyserial sets VMIN=0)."""
    with contextlib.suppress(termios.error):
        attrs = termios.tcgetattr(fd)
        attrs[6][termios.VMIN] = 1
        attrs[6][termios.VTIME] = 0
        termios.tcsetattr(fd, termios.TCSANOW, attrs)


class SerialTransport(Transport):
    """pyserial underneath; readiness-driven on a POSIX descriptor (a tty, a ``socket://``
    port's socket, an ``rfc2217://`` port's socket through Telnet), threaded otherwise."""

    def __init__(
        self,
        port: str,
        handle: serial.SerialBase | None,
        *,
        paced: bool = True,
        stream: FdStream | TelnetStream | None = None,
    ) -> None:
        self.port = port
        self.pacing = UART_PACING if paced else None
        self._serial = handle
        self._stream = stream
        self._lock = threading.Lock()
        fd = None if handle is None or stream is not None else self._fileno(handle)
        if fd is not None:
            _read_returns_at_least_one_byte(fd)
            self._stream = FdStream(fd, port)

    @classmethod
    async def open(
        cls,
        port: str,
        *,
        baudrate: int = DEFAULT_BAUDRATE,
        paced: bool = True,
        lines: ModemLines = DEFAULT_LINES,
        serial_class: type[serial.Serial] = serial.Serial,
    ) -> SerialTransport:
        """Open ``port`` with DTR and RTS held at ``lines`` (a ``socket://`` port has none).

        Raises :class:`PortNotFoundError`, :class:`PortBusyError` (naming the holder where it
        can), or :class:`TransportError`; ``serial_class`` opens device paths (a test double)."""
        if port.lower().startswith("rfc2217://"):
            return await cls._open_rfc2217(port, baudrate=baudrate, paced=paced, lines=lines)
        if port.lower().startswith("socket://"):  # not pyserial's: it drops what a server says first
            connection = await anyio.to_thread.run_sync(_connect, port)
            return cls(port, None, paced=paced, stream=SocketStream(connection, port))
        handle = await anyio.to_thread.run_sync(_open_serial, port, baudrate, lines, serial_class)
        return cls(port, handle, paced=paced)

    @classmethod
    async def _open_rfc2217(
        cls, port: str, *, baudrate: int, paced: bool, lines: ModemLines
    ) -> SerialTransport:
        stream = TelnetStream(await anyio.to_thread.run_sync(_connect, port), port)
        try:
            with anyio.fail_after(CONNECT_TIMEOUT + NEGOTIATION_TIMEOUT):
                await stream.negotiate(baudrate, lines)
        except TimeoutError as error:
            stream.close()
            raise TransportError(f"{port} took the connection but not the settings", port=port) from error
        except ConnectionLostError as error:  # ser2net takes one client: it closes on a second
            stream.close()
            sent = f" (it sent {stream.early[-120:]!r})" if stream.early else ""
            raise PortBusyError(
                f"{port} closed the connection as it opened{sent}: busy with another client, "
                "or not serving this port",
                port=port,
            ) from error
        except BaseException:
            stream.close()
            raise
        return cls(port, None, paced=paced, stream=stream)

    @staticmethod
    def _fileno(handle: serial.SerialBase) -> int | None:
        """The descriptor to wait on: a POSIX tty's."""
        if not isinstance(handle, serial.Serial) or os.name != "posix":
            return None
        with contextlib.suppress(AttributeError, OSError, ValueError):
            return int(handle.fileno())
        return None

    def hung_up(self) -> bool:
        """A tty's hang-up (its USB device unplugged), seen without reading."""
        if isinstance(self._serial, serial.Serial) and isinstance(self._stream, FdStream):
            return self._stream.hung_up()
        return False

    async def send(self, data: bytes) -> None:
        if self._stream is not None:
            await self._stream.write(data)
            return
        await anyio.to_thread.run_sync(self._blocking_call, self._handle.write, data)

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
            waiting = _in_waiting(self._handle)
            if waiting:
                return bytes(self._blocking_call(self._handle.read, min(waiting, max_bytes)))
        return b""

    def _read_some(self, max_bytes: int) -> bytes:
        """Blocking read with the port's short timeout, so a cancelled wait ends soon."""
        first: bytes = self._blocking_call(self._handle.read, 1)
        if not first:
            return b""
        waiting = self._blocking_call(lambda: _in_waiting(self._handle))
        rest: bytes = self._blocking_call(self._handle.read, min(waiting, max_bytes - 1)) if waiting else b""
        return first + rest

    @property
    def _handle(self) -> serial.SerialBase:
        """The pyserial port, for the threaded path (every port but ``rfc2217://`` has one)."""
        if self._serial is None:
            raise ConnectionLostError(f"{self.port} has no pyserial port", port=self.port)
        return self._serial

    def _blocking_call(self, function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        with self._lock:
            if not self._handle.is_open:
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
        if self._serial is not None:
            if isinstance(self._serial, serial.Serial):
                release_lines(self._serial)
            with contextlib.suppress(serial.SerialException, OSError):
                self._serial.close()
