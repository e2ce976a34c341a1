"""The ``belay`` command: ``exec``, ``run``, ``repl``, ``info``, ``latency``, ``reset``, ``stats``,
``reap``, ``clean``, ``ports``, ``virtual-board``, the ``fs`` commands and ``sync``.

``belay exec`` runs code in a session of its own (ended, so cleaned off the board, when the
code ends) unless ``--keep``; ``belay stats`` shows what the agent holds on a board;
``belay reap`` ends the sessions whose hosts went silent, and journals them.

Exit status: 0 success; 1 the code raised on the board (its traceback on stderr);
2 the port or board could not be used (one line on stderr); 3 a call timed out;
130 interrupted.

Start-up is part of every command's time: this module and the ``cli_*`` modules import what a
command needs inside the command (anyio, rich, the container, the session stack), so that
``belay --help`` or ``belay ports`` never pay for a board connection.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from belay.cli_board import add_board_commands
from belay.cli_common import (
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PORT,
    EXIT_REMOTE,
    EXIT_TIMEOUT,
    CliError,
    PortAction,
    note_keep_on_unix,
    resolve_port,
)
from belay.cli_fs import add_fs_commands
from belay.cli_history import add_history_command
from belay.cli_info import add_info_commands
from belay.cli_install import add_install_commands
from belay.cli_repl import add_repl_commands
from belay.cli_run import add_run_commands
from belay.errors import (
    BelayError,
    DeviceExecError,
    DeviceTimeoutError,
    ProtocolError,
    TransportError,
)
from belay.transports.port_names import VIRTUAL_BOARDS

if TYPE_CHECKING:
    from belay.container import Container


def read_code(args: argparse.Namespace, stdin: TextIO) -> str:
    if args.file is not None:
        try:
            with open(args.file, encoding="utf-8") as handle:
                return handle.read()
        except OSError as error:
            raise CliError(f"cannot read {args.file}: {error.strerror}") from error
    if args.code is None:
        raise CliError("give CODE, -f FILE, or - to read code from standard input")
    return stdin.read() if args.code == "-" else str(args.code)


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
        await device.exec(code, timeout=timeout, on_output=StdoutWriter(out))


def cmd_exec(args: argparse.Namespace, container: Container) -> int:
    import anyio

    port = resolve_port(args.port, dict(os.environ), sys.stderr, container.port_aliases())
    code = read_code(args, sys.stdin)
    if args.keep:
        note_keep_on_unix(port, sys.stderr)
        anyio.run(run_exec_kept, container, port, code, sys.stdout.buffer, args.timeout)
    else:
        filename = os.path.abspath(args.file) if args.file is not None else None
        anyio.run(run_exec, container, port, code, sys.stdout.buffer, args.timeout, filename)
    return EXIT_OK


def cmd_stats(args: argparse.Namespace, container: Container) -> int:
    import anyio
    from rich.console import Console

    from belay.cli_stats import read_board_stats, render_stats, stats_json

    port = resolve_port(args.port, dict(os.environ), sys.stderr, container.port_aliases())
    stats = anyio.run(read_board_stats, container, port)
    if args.json:
        sys.stdout.write(stats_json(stats, port) + "\n")
    else:
        render_stats(stats, port, Console(file=sys.stdout))
    return EXIT_OK


def cmd_reap(args: argparse.Namespace, container: Container) -> int:
    import functools
    from pathlib import Path

    import anyio
    from rich.console import Console

    from belay.cli_reap import reap_port, render_reaped
    from belay.journal import default_journal_path

    port = resolve_port(args.port, dict(os.environ), sys.stderr, container.port_aliases())
    configured = container.options().journal_path
    journal = Path(args.journal) if args.journal else configured or default_journal_path()
    reap = functools.partial(
        reap_port, container, port, every=args.all, journal=journal, allow_reset=not args.no_reset
    )
    reaped, reset = anyio.run(reap)
    render_reaped(reaped, port, journal, Console(file=sys.stdout), reset=reset)
    return EXIT_OK


def cmd_clean(args: argparse.Namespace, container: Container) -> int:
    import functools

    import anyio
    from rich.console import Console

    from belay.cli_clean import clean_port, render_clean

    port = resolve_port(args.port, dict(os.environ), sys.stderr, container.port_aliases())
    clean = functools.partial(clean_port, container, port, force=args.force, reset=not args.no_reset)
    render_clean(anyio.run(clean), port, Console(file=sys.stdout))
    return EXIT_OK


async def serve_virtual_board(container: Container, kind: str, out: TextIO) -> None:
    """Start a virtual board, serve it on a pty, print the path, run until SIGINT/SIGTERM."""
    import signal

    import anyio

    from belay.transports.pty_server import serve_on_pty

    transport = await container.transport_factory()(kind)
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


def _line_level(text: str) -> bool:
    levels = {"1": True, "on": True, "0": False, "off": False}
    if text.lower() not in levels:
        raise argparse.ArgumentTypeError(f"a line level is 0, 1, on or off, not {text!r}")
    return levels[text.lower()]


def _add_port(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-p", "--port", action=PortAction, help="board: a serial path, a pyserial URL, "
                        "'unix', 'microbit', id:SERIAL, VID:PID or a unique prefix of one (default: "
                        "$BELAY_PORT, else the one USB board, else 'unix')")  # fmt: skip
    for line in ("dtr", "rts"):
        parser.add_argument(f"--{line}", type=_line_level, metavar="0|1", help=f"hold the serial port's "
                            f"{line.upper()} line low (0) or high (1) while open (default 1, as a port "
                            f"opens: no reset; $BELAY_{line.upper()})")  # fmt: skip


def _with_line_levels(container: Container, args: argparse.Namespace) -> Container:
    """``container``, its boards opened with the ``--dtr``/``--rts`` levels given."""
    levels = {line: getattr(args, line) for line in ("dtr", "rts") if getattr(args, line, None) is not None}
    if levels:
        container.config.options.from_dict(levels)
    return container


class _Discarded:
    """Takes any parser call (``add_argument``, ``set_defaults``, groups, subcommands) and keeps
    nothing: the parsers of the commands not being run."""

    def __getattr__(self, name: str) -> Callable[..., _Discarded]:
        return lambda *args, **kwargs: self


class _OneCommand:
    """``belay``'s subcommands, building the parser of the command ``name`` (or of the command
    it is an alias of) only: a run parses one command's options, not every command's.
    ``found`` says whether ``name`` was a command at all."""

    def __init__(self, commands: Any, name: str) -> None:
        self._commands, self._name, self.found = commands, name, False

    def add_parser(self, name: str, **kwargs: Any) -> Any:
        if name == self._name or self._name in kwargs.get("aliases", ()):
            self.found = True
            return self._commands.add_parser(name, **kwargs)
        return _Discarded()


def build_parser() -> argparse.ArgumentParser:
    """The ``belay`` parser, every command's."""
    return _build_parser(None)[0]


def _build_parser(command: str | None) -> tuple[argparse.ArgumentParser, bool]:
    """The ``belay`` parser: every command's, or with ``command``, that command's only; and
    whether ``command`` was one."""
    parser = argparse.ArgumentParser(prog="belay", description="Run code on MicroPython boards, cleanly.")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log more (-vv: debug)")
    parser.add_argument("-q", "--quiet", action="count", default=0, help="log less (-qq: only critical)")
    every = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands: Any = every if command is None else _OneCommand(every, command)

    run = commands.add_parser("exec", help="run code on a board and stream what it prints")
    run.add_argument("code", nargs="?", help="code to run, or - to read it from standard input")
    run.add_argument("-f", "--file", help="run the code in FILE")
    _add_port(run)
    run.add_argument("-t", "--timeout", type=float, help="interrupt the code after this many seconds")
    run.add_argument("-k", "--keep", action="store_true",
                     help="run in the board's REPL namespace, outside a session, and leave the code's "
                     "variables on the board for later --keep runs; without it the code runs in a "
                     "session of its own, removed from the board when the code ends")  # fmt: skip
    run.set_defaults(handler=cmd_exec)

    stats = commands.add_parser(
        "stats", help="show the sessions the belay agent holds on a board, and its heap"
    )
    _add_port(stats)
    stats.add_argument("--json", action="store_true", help="print the agent's stats as JSON")
    stats.set_defaults(handler=cmd_stats)

    reap = commands.add_parser(
        "reap", help="end the sessions on a board whose leases ran out (their hosts went silent)"
    )
    _add_port(reap)
    reap.add_argument(
        "--all",
        action="store_true",
        help="end every session on the board, live or not (when no host uses it any more)",
    )
    reap.add_argument("--no-reset", action="store_true", help="with --all, never soft-reset a board too full "
                      "to end its sessions (the default resets it, saying so)")  # fmt: skip
    reap.add_argument("--journal", help="journal file (default: $BELAY_JOURNAL_PATH, else in the "
                      "user's state directory)")  # fmt: skip
    reap.set_defaults(handler=cmd_reap)

    clean = commands.add_parser(
        "clean", help="remove everything belay left on a board: its agent, files and names"
    )
    _add_port(clean)
    clean.add_argument("--force", action="store_true", help="end live sessions too (their hosts lose them)")
    clean.add_argument("--no-reset", action="store_true", help="never soft-reset the board (a board without "
                       "sys.modules then keeps the agent in RAM until its next reset)")  # fmt: skip
    clean.set_defaults(handler=cmd_clean)

    board = commands.add_parser(
        "virtual-board", help="serve a virtual board on a pty and print its path (until Ctrl-C)"
    )
    board.add_argument("--kind", choices=VIRTUAL_BOARDS, default="unix")
    board.add_argument("--baud", type=_baud, help="put the board behind a simulated 8N1 UART at this rate")
    board.set_defaults(handler=cmd_virtual_board)
    add_fs_commands(commands, _add_port, resolve_port)
    add_run_commands(commands, _add_port)
    add_repl_commands(commands, _add_port)
    add_info_commands(commands, _add_port)
    add_history_command(commands)
    add_install_commands(commands, _add_port)
    add_board_commands(parser, commands, _add_port)
    return parser, not isinstance(commands, _OneCommand) or commands.found


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """``argv`` parsed by the parser of its command alone where it names one (the first
    argument that is not an option: ``belay``'s own options take no values); by the whole
    parser otherwise (``belay``, ``belay --help``, a mistyped command), whose messages list
    every command."""
    arguments = sys.argv[1:] if argv is None else list(argv)
    command = next((argument for argument in arguments if not argument.startswith("-")), None)
    if command is not None:
        parser, found = _build_parser(command)
        if found:
            return parser.parse_args(arguments)
    return build_parser().parse_args(arguments)


def _report(error: BaseException) -> int:
    err = sys.stderr
    if isinstance(error, DeviceExecError):
        err.write(error.remote_traceback.rstrip("\n") + "\n")
        return EXIT_REMOTE
    if isinstance(error, DeviceTimeoutError):
        err.write(f"belay: timeout: {_one_line(error)}\n")
        return EXIT_TIMEOUT
    if isinstance(error, TransportError | ProtocolError | CliError):
        err.write(f"belay: error: {_one_line(error)}\n")
        return EXIT_PORT
    err.write(f"belay: error: {type(error).__name__}: {_one_line(error)}\n")
    return EXIT_PORT


def _one_line(error: BaseException) -> str:
    """``error``'s message on one line (a cleanup error lists its failures on several)."""
    return "; ".join(line.strip() for line in str(error).splitlines() if line.strip())


def _configured(args: argparse.Namespace) -> Container:
    """The container, configured from the project's file and ``BELAY_*``; ``args.port`` is
    the configured ``port`` where none was given (except for ``history``): its aliases are
    resolved, with the rest of the name, by :func:`~belay.cli_common.choose_port`.
    Raises :class:`CliError` for an unusable configuration."""
    from belay.config import ConfigError
    from belay.container import from_config

    try:
        container = from_config()
    except ConfigError as error:
        raise CliError(str(error)) from None
    if getattr(args, "port", "") is None and args.command != "history":
        args.port = container.config.port()
    return container


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    from belay.log import configure_cli_logging

    configure_cli_logging(args.verbose, args.quiet)
    # A command that needs no configuration (``ports``) never builds the container.
    standalone: Callable[[argparse.Namespace], int] | None = getattr(args, "standalone", None)
    try:
        if standalone is not None:
            return standalone(args)
        handler: Callable[[argparse.Namespace, Container], int] = args.handler
        return handler(args, _with_line_levels(_configured(args), args))
    except KeyboardInterrupt:
        sys.stderr.write("belay: interrupted\n")
        return EXIT_INTERRUPTED
    except (BelayError, CliError) as error:
        return _report(error)
