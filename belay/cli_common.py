"""What every ``belay`` command shares: exit statuses, the usage error, and choosing the port.

Kept free of heavy imports: every command imports it before it knows what it needs.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from typing import Any, TextIO

from belay.transports.port_names import resolve_port_name

EXIT_OK, EXIT_REMOTE, EXIT_PORT, EXIT_TIMEOUT, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


class CliError(Exception):
    """A usage problem the CLI reports in one line with exit status 2."""


class PortAction(argparse.Action):
    """``--port``: stores the name and notes that it was given (not filled in from elsewhere)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:  # fmt: skip
        setattr(namespace, self.dest, values)
        namespace.port_given = True


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


def note_keep_on_unix(port: str, err: TextIO) -> None:
    """``--keep`` on ``unix`` keeps nothing between runs: each run starts a fresh board."""
    if port.partition("?")[0] == "unix":
        err.write(
            "belay: note: each run on 'unix' starts a fresh board, so --keep keeps nothing for the "
            "next run; `belay virtual-board` serves one that lasts (pass its path to --port)\n"
        )
