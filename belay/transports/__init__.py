"""Byte streams to boards: serial lines, the two virtual boards, and memory for tests.

:func:`open_transport` turns a port string into an open :class:`Transport`:
``"unix"`` and ``"microbit"`` start a virtual board, anything else is a serial device path
or a pyserial URL (``rfc2217://host:port``, ``socket://host:port``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from belay.transports.base import Pacing, Transport
from belay.transports.memory import BoardEnd, MemoryTransport
from belay.transports.microbit_board import MicrobitBoard
from belay.transports.serial import SerialTransport
from belay.transports.unix_board import UnixBoard

VIRTUAL_BOARDS = ("unix", "microbit")

TransportFactory = Callable[[str], Awaitable[Transport]]
"""What the device layer is given to open a port: ``await factory(port)``."""


async def open_transport(port: str) -> Transport:
    """Open ``port``: a virtual board name, a serial device path or a pyserial URL."""
    if port == "unix":
        return await UnixBoard.start()
    if port == "microbit":
        return await MicrobitBoard.start()
    return await SerialTransport.open(port)


__all__ = [
    "VIRTUAL_BOARDS",
    "BoardEnd",
    "MemoryTransport",
    "MicrobitBoard",
    "Pacing",
    "SerialTransport",
    "Transport",
    "TransportFactory",
    "UnixBoard",
    "open_transport",
]
