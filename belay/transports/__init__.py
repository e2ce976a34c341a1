"""Byte streams to boards: serial lines, the two virtual boards, lab places, and memory for tests.

:func:`open_transport` turns a port string into an open :class:`Transport`:
``"unix"`` and ``"microbit"`` start a virtual board (``"unix?baud=115200"`` puts it behind a
simulated UART line at that rate), ``labgrid:PLACE`` and ``labgrid:KEY=VALUE`` are a labgrid
place's serial port (:mod:`belay.transports.lab`), anything else is a serial device path or a
pyserial URL (``rfc2217://host:port``, ``socket://host:port``).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from belay.errors import PortNotFoundError
from belay.transports.base import DEFAULT_LAB, DEFAULT_LINES, LabOptions, ModemLines, Pacing, Transport
from belay.transports.port_names import VIRTUAL_BOARDS, is_lab_port

# The transports imported on first use, by module: a command pays only for the kinds of port it
# opens. The one table ``__all__`` and the lazy imports are made from (tests/test_public_api.py
# holds the ``TYPE_CHECKING`` block to it).
_LAZY_BY_MODULE: dict[str, tuple[str, ...]] = {
    "belay.transports.memory": ("BoardEnd", "MemoryTransport"),
    "belay.transports.microbit_board": ("MicrobitBoard",),
    "belay.transports.paced_line": ("PacedLine",),
    "belay.transports.serial": ("SerialTransport",),
    "belay.transports.unix_board": ("UnixBoard",),
}

if TYPE_CHECKING:
    from belay.transports.memory import BoardEnd as BoardEnd
    from belay.transports.memory import MemoryTransport as MemoryTransport
    from belay.transports.microbit_board import MicrobitBoard as MicrobitBoard
    from belay.transports.paced_line import PacedLine as PacedLine
    from belay.transports.serial import SerialTransport as SerialTransport
    from belay.transports.unix_board import UnixBoard as UnixBoard

TransportFactory = Callable[[str], Awaitable[Transport]]
"""What the device layer is given to open a port: ``await factory(port)``."""


async def open_transport(
    port: str, *, lines: ModemLines = DEFAULT_LINES, lab: LabOptions = DEFAULT_LAB
) -> Transport:
    """Open ``port``: a virtual board name (with ``?baud=N``: behind a simulated line at ``N``
    baud), a serial device path or a pyserial URL (DTR and RTS held at ``lines``), a labgrid
    place (opened as ``lab`` says)."""
    name, _, query = port.partition("?")
    if is_lab_port(name):
        from belay.transports.lab import open_lab_port

        return await open_lab_port(port, lines=lines, lab=lab)
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


def with_lines(
    factory: TransportFactory, lines: ModemLines, lab: LabOptions = DEFAULT_LAB
) -> TransportFactory:
    """``factory``, opening serial ports with DTR and RTS at ``lines`` and labgrid places as
    ``lab`` says, if it is :func:`open_transport` (a factory of one's own opens ports its own way)."""
    if factory is not open_transport:
        return factory
    if lab == DEFAULT_LAB:
        return factory if lines == DEFAULT_LINES else functools.partial(open_transport, lines=lines)
    return functools.partial(open_transport, lines=lines, lab=lab)


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


_LAZY = {name: module for module, names in _LAZY_BY_MODULE.items() for name in names}


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
    "LabOptions",
    "ModemLines",
    "Pacing",
    "Transport",
    "TransportFactory",
    "open_transport",
    "with_lines",
    *_LAZY,
]
