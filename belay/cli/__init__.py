"""The ``belay`` command: one module per command family, found through :data:`COMMANDS`.

``belay exec`` runs code in a session of its own (ended, so cleaned off the board, when the
code ends) unless ``--keep``; ``belay stats`` shows what the agent holds on a board;
``belay reap`` ends the sessions whose hosts went silent, and journals them.

Exit status: 0 success; 1 the code raised on the board (its traceback on stderr), or the
board refused a file operation; 2 a usage error or a refusal decided on the host, or the port
or board could not be used (one line on stderr); 3 a call timed out; 130 interrupted.

Start-up is part of every command's time: only the module of the command being run is
imported and only its parser built, and the modules import what a command needs inside the
command (anyio, rich, the container, the session stack), so that ``belay --help`` or
``belay ports`` never pay for a board connection.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from belay.cli.common import (
    ALIASES,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PORT,
    EXIT_REMOTE,
    EXIT_TIMEOUT,
    CliError,
    VersionAction,
    with_port_options,
)
from belay.errors import BelayError, DeviceExecError, DeviceTimeoutError, ProtocolError, TransportError
from belay.options import OptionError

if TYPE_CHECKING:
    from belay.container import Container

COMMANDS: dict[str, str] = {
    "exec": "belay.cli.exec",
    "stats": "belay.cli.agent",
    "reap": "belay.cli.agent",
    "clean": "belay.cli.agent",
    "virtual-board": "belay.cli.board",
    "fs": "belay.cli.fs",
    "sync": "belay.cli.sync",
    "dev": "belay.cli.dev",
    "df": "belay.cli.fs",
    "run": "belay.cli.run",
    "repl": "belay.cli.repl",
    "info": "belay.cli.info",
    "latency": "belay.cli.info",
    "history": "belay.cli.history",
    "install": "belay.cli.install",
    "reset": "belay.cli.board",
    "ports": "belay.cli.board",
    "lab": "belay.cli.lab",
}
"""Every command (in ``belay --help``'s order) -> the module whose ``add_parser(commands, name)``
registers it. A run imports the module of its own command alone."""


def build_parser() -> argparse.ArgumentParser:
    """The ``belay`` parser, every command's."""
    return _build_parser(None)[0]


def _build_parser(command: str | None) -> tuple[argparse.ArgumentParser, bool]:
    """The ``belay`` parser: every command's, or with ``command`` (a command or an alias), that
    command's only, or with ``""`` none (belay's own options); and whether ``command`` was one."""
    parser = argparse.ArgumentParser(prog="belay", description="Run code on MicroPython boards, cleanly.")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log more (-vv: debug)")
    parser.add_argument("-q", "--quiet", action="count", default=0, help="log less (-qq: only critical)")
    parser.add_argument("--version", action=VersionAction, help="print belay's version and exit")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    if command == "":  # belay's own options only (``--version``): no command's module is imported
        return parser, True
    name = ALIASES.get(command, command) if command is not None else None
    for each in COMMANDS if name not in COMMANDS else (name,):
        importlib.import_module(COMMANDS[each]).add_parser(commands, each)
    return parser, name in COMMANDS


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """``argv`` parsed by the parser of its command alone where it names one (the first
    argument that is not an option: ``belay``'s own options take no values); by the whole
    parser otherwise (``belay``, ``belay --help``, a mistyped command), whose messages list
    every command."""
    arguments = sys.argv[1:] if argv is None else list(argv)
    command = next((argument for argument in arguments if not argument.startswith("-")), None)
    if command is None and "--version" in arguments:
        command = ""  # answered by belay's own parser, before any command's is needed
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
    if isinstance(error, TransportError | ProtocolError | CliError | OptionError):
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
    resolved, with the rest of the name, by :func:`~belay.cli.common.choose_port`.
    Commands journal their sessions, by default to the journal ``belay history`` reads (a
    ``journal_path`` of the file or ``$BELAY_JOURNAL_PATH`` wins; an empty one turns it off).
    Raises :class:`CliError` for an unusable configuration."""
    from belay.config import ConfigError
    from belay.container import from_config
    from belay.journal import default_journal_path

    try:
        container = from_config({"journal_path": str(default_journal_path())})
    except ConfigError as error:
        raise CliError(str(error)) from None
    if getattr(args, "port", "") is None and args.command != "history":
        args.port = container.config.port()
    return container


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``belay`` command with ``argv`` (default: ``sys.argv[1:]``); return its exit status."""
    args = parse_args(argv)
    from belay.log import configure_cli_logging

    configure_cli_logging(args.verbose, args.quiet)
    # A command that needs no configuration (``ports``) never builds the container.
    standalone: Callable[[argparse.Namespace], int] | None = getattr(args, "standalone", None)
    try:
        if standalone is not None:
            return standalone(args)
        handler: Callable[[argparse.Namespace, Container], int] = args.handler
        return handler(args, with_port_options(_configured(args), args))
    except KeyboardInterrupt:
        sys.stderr.write("belay: interrupted\n")
        return EXIT_INTERRUPTED
    except (BelayError, CliError, OptionError) as error:
        return _report(error)


__all__ = ["COMMANDS", "EXIT_OK", "build_parser", "main", "parse_args"]
