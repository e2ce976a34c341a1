"""What every ``belay`` command shares: exit statuses, the usage error, the options several
commands take (``--port``/``--dtr``/``--rts``/``--lab-wait``/``--lab-share``; exec's and run's
``--timeout``/``--keep``),
choosing the port, and reading code.

Kept free of heavy imports: every command imports it before it knows what it needs.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TextIO

from belay.transports.port_names import resolve_port_name

if TYPE_CHECKING:
    from belay.container import Container

EXIT_OK, EXIT_REMOTE, EXIT_PORT, EXIT_TIMEOUT, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
EXIT_USAGE = EXIT_PORT
"""A usage error or a refusal decided on the host (a bad path, a local file missing) shares
status 2 with an unusable port: 1 is for errors raised on the board."""

ALIASES = {"terminal": "repl"}
"""Other names of commands: alias -> the command."""
LINES = ("dtr", "rts")
"""The serial port's modem lines a command may set the level of."""


class CliError(Exception):
    """A usage problem the CLI reports in one line with exit status 2."""


class PortAction(argparse.Action):
    """``--port``: stores the name and notes that it was given (not filled in from elsewhere)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:  # fmt: skip
        setattr(namespace, self.dest, values)
        namespace.port_given = True


class VersionAction(argparse.Action):
    """``--version``: the version is read (from the package's metadata) only when asked for."""

    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *args: Any, **kwargs: Any) -> None:
        import belay

        python = ".".join(str(part) for part in sys.version_info[:3])
        sys.stdout.write(f"belay {belay.__version__} (Python {python})\n")
        parser.exit()


def _line_level(text: str) -> bool:
    levels = {"1": True, "on": True, "0": False, "off": False}
    if text.lower() not in levels:
        raise argparse.ArgumentTypeError(f"a line level is 0, 1, on or off, not {text!r}")
    return levels[text.lower()]


def seconds(text: str) -> float:
    """A ``--timeout``: a finite number of seconds above 0 (``nan`` would mean no deadline)."""
    import math

    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"a finite number of seconds above 0, not {text!r}")
    return value


def wait_seconds(text: str) -> float:
    """A ``--lab-wait``: a finite number of seconds, 0 or more."""
    import math

    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"a finite number of seconds, 0 or more, not {text!r}")
    return value


def add_port_options(parser: argparse.ArgumentParser) -> None:
    """``-p/--port``, the ``--dtr``/``--rts`` levels and a lab port's ``--lab-wait``/``--lab-share``,
    as every command that opens a board takes them."""
    parser.add_argument("-p", "--port", action=PortAction, help="board: a serial path, a pyserial URL, "
                        "'unix', 'microbit', id:SERIAL, VID:PID or a unique prefix of one (default: "
                        "$BELAY_PORT, else the one USB board, else 'unix')")  # fmt: skip
    for line in LINES:
        parser.add_argument(f"--{line}", type=_line_level, metavar="0|1", help=f"hold the serial port's "
                            f"{line.upper()} line low (0) or high (1) while open (default 1, as a port "
                            f"opens: no reset; $BELAY_{line.upper()})")  # fmt: skip
    parser.add_argument("--lab-wait", type=wait_seconds, metavar="SECONDS", help="on a labgrid: port, wait "
                        "this long for a place another identity holds, or for a free place with the tags "
                        "(default 0: refuse at once; $BELAY_LAB_WAIT, lab_wait)")  # fmt: skip
    parser.add_argument("--lab-share", action="store_true", default=None, help="on a labgrid: port acquired "
                        "by hand, share its line with the other belay processes here that ask to share it "
                        "($BELAY_LAB_SHARE, lab_share)")  # fmt: skip


def add_run_options(parser: argparse.ArgumentParser, what: str, keep_help: str) -> None:
    """``--port`` and its lines, ``-t/--timeout`` and ``-k/--keep``: what ``exec`` and ``run``
    both take (``what`` is what runs: "the code", "the script")."""
    add_port_options(parser)
    parser.add_argument("-t", "--timeout", type=seconds, help=f"interrupt {what} after this many seconds")
    parser.add_argument("-k", "--keep", action="store_true", help=keep_help)


PORT_OPTIONS = (*LINES, "lab_wait", "lab_share")
"""The port options a command may be given: each sets the :class:`~belay.SessionOptions` field of its name."""


def with_port_options(container: Container, args: argparse.Namespace) -> Container:
    """``container``, its boards opened as the ``--dtr``/``--rts``/``--lab-wait``/``--lab-share``
    given say (over the configuration and the environment)."""
    given = {name: getattr(args, name) for name in PORT_OPTIONS if getattr(args, name, None) is not None}
    if given:
        container.config.options.from_dict(given)
    return container


def port_source(args: argparse.Namespace, environ: dict[str, str]) -> str | None:
    """How ``args.port`` came to be, where it was not typed: ``$BELAY_PORT`` or the configuration."""
    if args.port is None or getattr(args, "port_given", False):
        return None
    return "$BELAY_PORT" if environ.get("BELAY_PORT") else "the configuration file"


def choose_port(
    given: str | None, environ: dict[str, str], aliases: Mapping[str, str] | None = None
) -> tuple[str, str]:
    """The port to use and how it was chosen: ``--port`` (a name, an alias of the
    configuration's ``[ports]``, ``id:SERIAL``, ``vid:pid`` or a unique prefix of a port or an
    alias), else ``$BELAY_PORT``, else the single USB MicroPython board, else ``unix``.

    Raises :class:`~belay.errors.PortNotFoundError` for a name that matches no port (with the
    names, aliases among them, it may have meant) and :class:`CliError` when several boards
    are connected.
    """
    if given:
        return resolve_port_name(given, aliases or {}), "--port"
    if environ.get("BELAY_PORT"):
        return resolve_port_name(environ["BELAY_PORT"], aliases or {}), "$BELAY_PORT"
    from belay.transports.discovery import micropython_ports

    boards = micropython_ports()
    if len(boards) == 1:
        return boards[0], "the only USB MicroPython board connected"
    if len(boards) > 1:
        raise CliError(f"several boards connected ({', '.join(boards)}): choose one with --port")
    return "unix", "no board given or connected"


def resolve_port(
    given: str | None, environ: dict[str, str], err: TextIO, aliases: Mapping[str, str] | None = None
) -> str:
    """:func:`choose_port`'s port, saying on ``err`` when belay picked it itself."""
    port, how = choose_port(given, environ, aliases)
    if how.startswith("the only"):
        err.write(f"belay: using the board on {port}\n")
    elif how.startswith("no board"):
        err.write("belay: no board given or connected; using the unix virtual board\n")
    return port


def port_for(args: argparse.Namespace, container: Container) -> str:
    """The port a command run with ``args`` uses: :func:`resolve_port` of ``--port`` (or what
    was configured), with the configuration's aliases, saying on stderr when belay picked it."""
    return resolve_port(args.port, dict(os.environ), sys.stderr, container.port_aliases())


def read_code(args: argparse.Namespace, stdin: TextIO) -> str:
    """The code ``exec`` runs: ``-f FILE``, ``-`` (standard input) or the CODE argument.
    Raises :class:`CliError` when there is none or the file cannot be read."""
    if args.file is not None:
        try:
            with open(args.file, encoding="utf-8") as handle:
                return handle.read()
        except OSError as error:
            raise CliError(f"cannot read {args.file}: {error.strerror}") from error
    if args.code is None:
        raise CliError("give CODE, -f FILE, or - to read code from standard input")
    return stdin.read() if args.code == "-" else str(args.code)


def note_keep_on_unix(port: str, err: TextIO) -> None:
    """``--keep`` on ``unix`` keeps nothing between runs: each run starts a fresh board."""
    if port.partition("?")[0] == "unix":
        err.write(
            "belay: note: each run on 'unix' starts a fresh board, so --keep keeps nothing for the "
            "next run; `belay virtual-board` serves one that lasts (pass its path to --port)\n"
        )
