"""``belay repl`` (alias ``terminal``): the board's own friendly REPL in this terminal.

The terminal is put in raw mode, so every key reaches the board as typed: Ctrl-C interrupts
running code, Ctrl-D soft-reboots, Ctrl-E is paste mode. Ctrl-] leaves (said as it starts),
the terminal is restored and the board is left at its friendly REPL, usable by any other tool.
No session is opened and the agent is not loaded: what you type is all the board sees.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from belay.cli.common import ALIASES, EXIT_OK, add_port_options, port_for

if TYPE_CHECKING:
    from collections.abc import Iterator

    from belay.container import Container
    from belay.transports.base import Transport

LEAVE = b"\x1d"
"""Ctrl-]: leaves the REPL (as in telnet, picocom and mpremote)."""
FRIENDLY = b"\x02"
"""Ctrl-B: leaves the raw REPL for the friendly one (which prints its banner again)."""
_LONE_LF = re.compile(rb"(?<!\r)\n")


@contextmanager
def raw_terminal(fd: int) -> Iterator[None]:
    """``fd``'s terminal in raw mode for the block, restored after it; nothing is done where
    ``fd`` is not a terminal."""
    if not os.isatty(fd):
        yield
        return
    import termios
    import tty

    saved = termios.tcgetattr(fd)
    tty.setraw(fd, termios.TCSANOW)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSAFLUSH, saved)


def write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to ``fd`` (a terminal may take it in parts)."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


async def board_to_screen(transport: Transport, out_fd: int, out_is_tty: bool) -> None:
    """Copy what the board prints to ``out_fd`` until the board goes away (a reboot the
    transport reports is not an end: the board is back)."""
    from belay.errors import ConnectionLostError

    after_cr = False
    while True:
        try:
            data = await transport.receive()
        except ConnectionLostError as error:
            if error.rebooted:
                continue
            raise
        if out_is_tty:  # a raw terminal needs CR LF to end a line; the unix port sends LF
            shown = _LONE_LF.sub(b"\r\n", data)
            data = shown[1:] if after_cr and data.startswith(b"\n") else shown  # CR in the last part
            after_cr = data.endswith(b"\r")
        write_all(out_fd, data)


async def keys_to_board(transport: Transport, in_fd: int) -> None:
    """Send what is typed on ``in_fd`` to the board until Ctrl-] (or the end of the input)."""
    import anyio

    while True:
        await anyio.wait_readable(in_fd)
        try:
            data = os.read(in_fd, 1024)
        except BlockingIOError:
            continue
        keys, leave, _ = data.partition(LEAVE)
        if keys:
            await transport.send(keys)
        if leave or not data:
            return


async def repl(container: Container, port: str, in_fd: int, out_fd: int) -> None:
    """The terminal session: the board's output on the screen, the keys to the board; the
    port opened with the DTR and RTS levels of ``--dtr``/``--rts`` (else the configured ones)."""
    import anyio

    from belay.transports import LabOptions, ModemLines, with_lines

    options = container.options()
    lines, lab = ModemLines(options.dtr, options.rts), LabOptions.of(options)
    transport = await with_lines(container.transport_factory(), lines, lab)(port)
    async with transport:
        sys.stderr.write(f"belay: connected to {port}; Ctrl-] leaves\r\n")  # \r: a raw terminal
        sys.stderr.flush()
        await transport.send(FRIENDLY)  # a board left in raw mode comes back to the friendly REPL
        async with anyio.create_task_group() as group:
            group.start_soon(board_to_screen, transport, out_fd, os.isatty(out_fd))
            await keys_to_board(transport, in_fd)
            group.cancel_scope.cancel()


def cmd_repl(args: argparse.Namespace, container: Container) -> int:
    import anyio

    port = port_for(args, container)
    in_fd, out_fd = sys.stdin.fileno(), sys.stdout.fileno()
    with raw_terminal(in_fd):
        anyio.run(repl, container, port, in_fd, out_fd)
    sys.stderr.write(f"\nbelay: left the REPL on {port}\n")
    return EXIT_OK


def add_parser(commands: Any, name: str) -> None:
    """Register ``belay repl`` and its alias ``belay terminal``."""
    repl_parser = commands.add_parser(
        name, aliases=[alias for alias, command in ALIASES.items() if command == name],
        help="open the board's REPL in this terminal (Ctrl-] leaves)",
        description="The board's friendly REPL, keys passed through as typed (Ctrl-C interrupts, "
        "Ctrl-D soft-reboots). Ctrl-] leaves and leaves the board at its friendly REPL.",
    )  # fmt: skip
    add_port_options(repl_parser)
    repl_parser.set_defaults(handler=cmd_repl)
