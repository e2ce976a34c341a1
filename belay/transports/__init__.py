"""Byte streams to boards: serial lines, the two virtual boards, and memory for tests.

:func:`open_transport` turns a port string into an open :class:`Transport`:
``"unix"`` and ``"microbit"`` start a virtual board (``"unix?baud=115200"`` puts it behind a
simulated UART line at that rate), anything else is a serial device path or a pyserial URL
(``rfc2217://host:port``, ``socket://host:port``).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from belay.errors import PortNotFoundError
from belay.transports.base import DEFAULT_LINES, ModemLines, Pacing, Transport

if TYPE_CHECKING:
    from belay.transports.memory import BoardEnd, MemoryTransport
    from belay.transports.microbit_board import MicrobitBoard
    from belay.transports.paced_line import PacedLine
    from belay.transports.serial import SerialTransport
    from belay.transports.unix_board import UnixBoard

VIRTUAL_BOARDS = ("unix", "microbit")

TransportFactory = Callable[[str], Awaitable[Transport]]
"""What the device layer is given to open a port: ``await factory(port)``."""


async def open_transport(port: str, *, lines: ModemLines = DEFAULT_LINES) -> Transport:
    """Open ``port``: a virtual board name (with ``?baud=N``: behind a simulated line at ``N``
    baud), a serial device path or a pyserial URL (DTR and RTS held at ``lines``)."""
    name, _, query = port.partition("?")
    if name not in VIRTUAL_BOARDS:
        from belay.transports.serial import SerialTransport

        return await SerialTransport.open(port, lines=lines)
    baud = virtual_baud(port, query)
    board: Transport
    if name == "unix":
        from belay.transports.unix_board import UnixBoard

        board = await UnixBoard.start()
    else:
        from belay.transports.microbit_board import MicrobitBoard

        board = await MicrobitBoard.start()
    if baud is None:
        return board
    from belay.transports.paced_line import PacedLine

    return PacedLine(board, baud)


def with_lines(factory: TransportFactory, lines: ModemLines) -> TransportFactory:
    """``factory``, opening serial ports with DTR and RTS at ``lines`` if it is
    :func:`open_transport` (a factory of one's own opens ports its own way)."""
    if factory is not open_transport or lines == DEFAULT_LINES:
        return factory
    return functools.partial(open_transport, lines=lines)


def virtual_baud(port: str, query: str) -> int | None:
    """The baud rate a virtual board's port asks for (``unix?baud=115200``), if any."""
    if not query:
        return None
    from urllib.parse import parse_qs

    fields = parse_qs(query, keep_blank_values=True)
    baud = fields.pop("baud", [""])
    if fields or len(baud) != 1 or not baud[0].isdigit() or int(baud[0]) <= 0:
        raise PortNotFoundError(
            f"bad virtual board port {port!r}: the only option is a baud rate, as in "
            f"'{port.partition('?')[0]}?baud=115200'",
            port=port,
        )
    return int(baud[0])


# Imported on first use: a command pays only for the kinds of port it opens.
_LAZY = {
    "BoardEnd": "belay.transports.memory",
    "MemoryTransport": "belay.transports.memory",
    "MicrobitBoard": "belay.transports.microbit_board",
    "PacedLine": "belay.transports.paced_line",
    "SerialTransport": "belay.transports.serial",
    "UnixBoard": "belay.transports.unix_board",
}


def __getattr__(name: str) -> Any:
    """The transports not imported yet (PEP 562); raises :class:`AttributeError` for others."""
    if name not in _LAZY:
        raise AttributeError(f"module 'belay.transports' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


__all__ = [
    "VIRTUAL_BOARDS",
    "BoardEnd",
    "MemoryTransport",
    "MicrobitBoard",
    "ModemLines",
    "PacedLine",
    "Pacing",
    "SerialTransport",
    "Transport",
    "TransportFactory",
    "UnixBoard",
    "open_transport",
    "with_lines",
]
