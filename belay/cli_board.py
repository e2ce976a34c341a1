"""``belay reset``, ``belay ports`` and ``belay --version``: the board itself, and which ones there are.

``reset --soft`` (the default) restarts the board's interpreter: what it held in RAM is gone,
its files stay. ``reset --hard`` calls ``machine.reset()`` (``microbit.reset()`` on a
micro:bit), as a power cycle would, where the board has one; where it has not, it says so and
exits 2.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from belay.cli_common import EXIT_OK, CliError, resolve_port
from belay.transports.port_names import VIRTUAL_BOARDS

if TYPE_CHECKING:
    from belay.container import Container
    from belay.device import Device
    from belay.transports.discovery import PortInfo

AddPort = Callable[[argparse.ArgumentParser], None]
HARD_RESET = {"machine": "machine.reset()", "microbit": "microbit.reset()"}
FIND_RESET = (
    "r=None\nfor m in ('machine','microbit'):\n try:\n  if hasattr(__import__(m),'reset'):\n"
    "   r=m\n   break\n except ImportError:\n  pass\nprint(repr(r))\ndel r\n"
)
"""Which module of the board can reset it: ``'machine'``, ``'microbit'`` or ``None``."""


class VersionAction(argparse.Action):
    """``--version``: the version is read (from the package's metadata) only when asked for."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        import belay

        python = ".".join(str(part) for part in sys.version_info[:3])
        sys.stdout.write(f"belay {belay.__version__} (Python {python})\n")
        parser.exit()


async def hard_reset(device: Device) -> str:
    """Reset the board as a power cycle would; return how. Raises :class:`CliError` where the
    board has no way to (the unix port)."""
    from belay.errors import ConnectionLostError, DeviceTimeoutError, ProtocolError

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
    """Soft- or hard-reset the board on ``port``; return what was done, for people."""
    device = await container.device_opener(port)
    async with device:
        if hard:
            return f"hard-reset the board on {port} ({await hard_reset(device)})"
        await device.soft_reset()
    fresh = " (each run on 'unix' starts a fresh board anyway)" if port.startswith("unix") else ""
    return f"soft-reset the board on {port}: its RAM is cleared, its files kept{fresh}"


def cmd_reset(args: argparse.Namespace, container: Container) -> int:
    import anyio

    port = resolve_port(args.port, dict(os.environ), sys.stderr, container.port_aliases())
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


def add_board_commands(parser: argparse.ArgumentParser, commands: Any, add_port: AddPort) -> None:
    """Register ``belay reset``, ``belay ports`` and ``belay --version``."""
    parser.add_argument("--version", action=VersionAction, help="print belay's version and exit")
    reset = commands.add_parser("reset", help="reset a board: soft (its interpreter) or hard (all of it)",
                                description="Reset the board. Either way, what it held in RAM is gone: "
                                "the sessions on it end, for every host using it.")  # fmt: skip
    add_port(reset)
    how = reset.add_mutually_exclusive_group()
    how.add_argument("--soft", action="store_false", dest="hard", help="restart the interpreter: RAM is "
                     "cleared, files stay (the default)")  # fmt: skip
    how.add_argument("--hard", action="store_true", dest="hard", help="reset the whole board as a power "
                     "cycle does (machine.reset()), where the board can")  # fmt: skip
    reset.set_defaults(handler=cmd_reset, hard=False)
    ports = commands.add_parser("ports", help="list boards: the virtual ones and the serial ports")
    ports.set_defaults(standalone=cmd_ports)
