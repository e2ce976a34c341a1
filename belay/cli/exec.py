"""``belay exec``: code run on a board, its output streamed.

The code runs in a session of its own, ended (so cleaned off the board) when the code ends, or
with ``--keep`` in the board's REPL namespace, outside any session, where what it made stays.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from typing import TYPE_CHECKING, Any

from belay.cli.common import EXIT_OK, add_run_options, note_keep_on_unix, port_for, read_code
from belay.errors import DeviceExecError

if TYPE_CHECKING:
    from belay.container import Container


def as_repl_error(error: DeviceExecError) -> DeviceExecError:
    """The board's traceback as if the code had run at its REPL: code given inline (frames of
    ``<string>``, the session's ``exec``) reads ``<stdin>``, as at the bare REPL."""
    text = error.remote_traceback.replace('File "<string>"', 'File "<stdin>"')
    return DeviceExecError(error.remote_type, error.remote_message, text)


async def run_exec(
    container: Container, port: str, code: str, out: Any, timeout: float | None, filename: str | None = None
) -> None:
    """Run ``code`` in a session of its own: what it leaves on the board is removed at the end."""
    from belay.session.output import StdoutWriter

    manager = container.session_manager()
    options: dict[str, Any] = {} if timeout is None else {"call_timeout": timeout}
    async with manager, manager.session(port, on_output=StdoutWriter(out), **options) as session:
        try:
            await session.exec(code, filename=filename)
        except DeviceExecError as error:
            raise as_repl_error(error) from None


async def run_exec_kept(container: Container, port: str, code: str, out: Any, timeout: float | None) -> None:
    """Run ``code`` in the board's REPL namespace, outside any session: nothing is cleaned up."""
    from belay.session.output import StdoutWriter

    device = await container.device_opener(port)
    async with device:
        # the user's code: no deadline unless --timeout (the device bounds only belay's own calls)
        await device.exec(code, timeout=math.inf if timeout is None else timeout, on_output=StdoutWriter(out))


def cmd_exec(args: argparse.Namespace, container: Container) -> int:
    import anyio

    port = port_for(args, container)
    code = read_code(args, sys.stdin)
    if args.keep:
        note_keep_on_unix(port, sys.stderr)
        anyio.run(run_exec_kept, container, port, code, sys.stdout.buffer, args.timeout)
    else:
        filename = os.path.abspath(args.file) if args.file is not None else None
        anyio.run(run_exec, container, port, code, sys.stdout.buffer, args.timeout, filename)
    return EXIT_OK


def add_parser(commands: Any, name: str) -> None:
    """Register ``belay exec`` on the ``belay`` command's subparsers."""
    run = commands.add_parser(name, help="run code on a board and stream what it prints")
    run.add_argument("code", nargs="?", help="code to run, or - to read it from standard input")
    run.add_argument("-f", "--file", help="run the code in FILE")
    add_run_options(run, "the code", "run in the board's REPL namespace, outside a session, and leave "
                    "the code's variables on the board for later --keep runs; without it the code runs "
                    "in a session of its own, removed from the board when the code ends")  # fmt: skip
    run.set_defaults(handler=cmd_exec)
