"""``belay reset``, ``belay ports`` and ``belay virtual-board``: the board itself, which ones
there are, and serving a virtual one.

``reset --soft`` (the default) restarts the board's interpreter: what it held in RAM is gone,
its files stay. ``reset --hard`` calls ``machine.reset()`` (``microbit.reset()`` on a
micro:bit), as a power cycle would, where the board has one; where it has not, it says so and
exits 2.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, TextIO

from belay.cli.common import EXIT_OK, CliError, add_port_options, port_for
from belay.transports.port_names import VIRTUAL_BOARDS

if TYPE_CHECKING:
    from belay.container import Container
    from belay.device import Device
    from belay.transports.discovery import PortInfo

HARD_RESET = {"machine": "machine.reset()", "microbit": "microbit.reset()"}
FIND_RESET = (
    "r=None\nfor m in ('machine','microbit'):\n try:\n  if hasattr(__import__(m),'reset'):\n"
    "   r=m\n   break\n except ImportError:\n  pass\nprint(repr(r))\ndel r\n"
)
"""Which module of the board can reset it: ``'machine'``, ``'microbit'`` or ``None``."""


async def hard_reset(device: Device) -> str:
    """Reset the board as a power cycle would; return how. Raises :class:`CliError` where the
    board has no way to (the unix port)."""
    from belay.errors import ConnectionLostError, DeviceExecError, DeviceTimeoutError, ProtocolError

    try:
        module = await device.eval_code(FIND_RESET, timeout=10.0)
    except DeviceExecError as error:  # too full even for that: a soft reset first makes room
        if error.remote_type != "MemoryError":
            raise
        await device.soft_reset()
        module = await device.eval_code(FIND_RESET, timeout=10.0)
    if module not in HARD_RESET:
        raise CliError(
            f"the board on {device.port} cannot be hard-reset: it has neither machine.reset() nor "
            "microbit.reset() (belay reset --soft restarts its interpreter)"
        )
    # The board goes away mid-call: what a reset does.
    with contextlib.suppress(ConnectionLostError, DeviceTimeoutError, ProtocolError):
        await device.exec(f"import {module}\n{HARD_RESET[module]}", timeout=1.0)
    return f"{module}.reset()"


async def reset_board(container: Container, port: str, hard: bool) -> str:
    """Soft- or hard-reset the board on ``port``; return what was done, for people. The board
    is not probed first: a board too full to take the probe is the one that needs a reset."""
    device = await container.device_opener(port, detect=False)
    async with device:
        if hard:
            return f"hard-reset the board on {port} ({await hard_reset(device)})"
        await device.soft_reset()
    fresh = " (each run on 'unix' starts a fresh board anyway)" if port.startswith("unix") else ""
    return f"soft-reset the board on {port}: its RAM is cleared, its files kept{fresh}"


def cmd_reset(args: argparse.Namespace, container: Container) -> int:
    import anyio

    port = port_for(args, container)
    sys.stdout.write(anyio.run(reset_board, container, port, args.hard) + "\n")
    return EXIT_OK


def render_ports(ports: Sequence[PortInfo], out: TextIO) -> None:
    """The virtual boards, then a column per serial port field, then what the marks mean."""
    out.write("virtual boards:\t" + ", ".join(VIRTUAL_BOARDS) + "\n")
    if not ports:
        out.write("no serial ports found\n")
        return
    rows = [("", "port", "VID:PID", "serial", "description")]
    for port in ports:
        mark = "*" if port.likely_micropython else " "
        maker = port.maker or ""
        described = port.description
        if maker and maker not in described:
            described = f"{described} ({maker})"
        rows.append((mark, port.device, port.ids, port.serial_number or "-", described))
    widths = [max(len(row[column]) for row in rows) for column in range(4)]
    for row in rows:
        out.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)))
        out.write(f"  {row[4]}\n".rstrip(" ") if row[4] else "\n")
    out.write(
        "* looks like a MicroPython board (a MicroPython vendor or USB-serial bridge)\n"
        "--port takes a path, id:SERIAL, VID:PID or a unique prefix of a path\n"
    )


def cmd_ports(args: argparse.Namespace) -> int:
    """``belay ports``: needs no configuration, so it runs without the container."""
    from belay.transports.discovery import list_serial_ports

    render_ports(list_serial_ports(), sys.stdout)
    return EXIT_OK


async def serve_virtual_board(container: Container, kind: str, out: TextIO) -> None:
    """Start a virtual board, serve it on a pty, print the path, run until SIGINT/SIGTERM."""
    import signal

    import anyio

    from belay.transports.pty_server import serve_on_pty

    transport = await container.transport_factory()(kind)
    board = getattr(transport, "inner", transport)  # a virtual board behind a simulated line
    if hasattr(board, "restart_when_killed"):  # a killed interpreter: the board resets, served on
        board.restart_when_killed = True
    async with transport, serve_on_pty(transport) as path:
        out.write(f"{path}\n")
        out.flush()
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for _ in signals:
                return


def cmd_virtual_board(args: argparse.Namespace, container: Container) -> int:
    import anyio

    kind = args.kind if args.baud is None else f"{args.kind}?baud={args.baud}"
    anyio.run(serve_virtual_board, container, kind, sys.stdout)
    return EXIT_OK


def _baud(text: str) -> int:
    if not text.isdigit() or int(text) <= 0:
        raise argparse.ArgumentTypeError(f"a baud rate is a positive whole number, not {text!r}")
    return int(text)


def add_parser(commands: Any, name: str) -> None:
    """Register ``belay virtual-board``, ``belay reset`` or ``belay ports`` (``name``)."""
    if name == "virtual-board":
        board = commands.add_parser(
            name, help="serve a virtual board on a pty and print its path (until Ctrl-C)"
        )
        board.add_argument("--kind", choices=VIRTUAL_BOARDS, default="unix")
        board.add_argument(
            "--baud", type=_baud, help="put the board behind a simulated 8N1 UART at this rate"
        )
        board.set_defaults(handler=cmd_virtual_board)
    elif name == "reset":
        reset = commands.add_parser(name, help="reset a board: soft (its interpreter) or hard (all of it)",
                                    description="Reset the board. Either way, what it held in RAM is gone: "
                                    "the sessions on it end, for every host using it.")  # fmt: skip
        add_port_options(reset)
        how = reset.add_mutually_exclusive_group()
        how.add_argument("--soft", action="store_false", dest="hard", help="restart the interpreter: RAM is "
                         "cleared, files stay (the default)")  # fmt: skip
        how.add_argument("--hard", action="store_true", dest="hard", help="reset the whole board as a power "
                         "cycle does (machine.reset()), where the board can")  # fmt: skip
        reset.set_defaults(handler=cmd_reset, hard=False)
    else:
        ports = commands.add_parser(name, help="list boards: the virtual ones and the serial ports")
        ports.set_defaults(standalone=cmd_ports)
