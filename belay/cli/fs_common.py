"""What ``belay fs ...``, ``belay df`` and ``belay sync`` share: board paths as mpremote users
type them, a session per command, its exit statuses, the progress bar, the sync summary.

A leading ``:`` marks a board path; after it a leading ``/`` is the board's filesystem root
(``:/``, ``:/lib``, as ``:`` and ``:lib``); ``..`` is refused (board paths never leave the
root). Exit statuses: 0 success; 1 the board refused the operation (no such file, a folder
missing, its filesystem full: its ``OSError``); 2 a refusal decided on the host (a bad path,
a local file or folder missing or unusable, a folder where a file is meant, what the board
cannot do) or the port could not be used.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TextIO

import anyio

from belay.cli.common import EXIT_OK, EXIT_REMOTE, EXIT_USAGE, CliError, port_for
from belay.errors import (
    BoardFileError,
    DeviceCapabilityError,
    DeviceTimeoutError,
    DeviceValueError,
    RemoteFileExistsError,
    RemoteFileNotFoundError,
)

if TYPE_CHECKING:  # imported when a command runs, not at every command's start-up
    from pathlib import Path

    from rich.progress import Progress

    from belay.container import Container
    from belay.session.files.sync import SyncReport
    from belay.session.session import DeviceSession

Operation = Callable[["DeviceSession"], Awaitable[int]]

BOARD_REFUSALS = (RemoteFileNotFoundError, RemoteFileExistsError, BoardFileError)
"""The board's own ``OSError``, said in one line: exit 1."""
HOST_REFUSALS = (DeviceValueError, DeviceCapabilityError, CliError, OSError)
"""Refusals the host decides (local ``OSError`` too): exit 2."""


def board_path(text: str) -> str:
    """The board path in ``:path`` (or a bare path, for commands that take board paths only),
    relative to the board's root: ``:/lib`` is ``lib``, ``:/`` and ``:`` the root itself.
    Raises :class:`CliError` for a path that would leave the root."""
    path = text[1:] if text.startswith(":") else text
    if ".." in path.replace("\\", "/").split("/"):
        raise CliError(f"board path {text!r} goes up with '..': board paths start at the board's root (':/')")
    if "\x00" in path:
        raise CliError(f"board path {text!r} contains a NUL character")
    return path.lstrip("/")


def exit_status(error: BaseException) -> int | None:
    """The exit status of a refusal (``None``: not one; ``main`` reports it)."""
    if isinstance(error, DeviceTimeoutError):
        return None
    if isinstance(error, BOARD_REFUSALS):
        return EXIT_REMOTE
    if isinstance(error, HOST_REFUSALS):
        return EXIT_USAGE
    return None


def run_in_session(args: argparse.Namespace, container: Container, operation: Operation) -> int:
    """Open a session on the command's port, run ``operation``; a refusal is one line on
    stderr, with its exit status (:func:`exit_status`)."""
    port = port_for(args, container)

    async def main() -> int:
        manager = container.session_manager()
        async with manager, manager.session(port, on_output=None) as session:
            return await operation(session)

    try:
        return anyio.run(main)
    except DeviceTimeoutError:  # also a TimeoutError, so an OSError: exit 3, as for every command
        raise
    except (*BOARD_REFUSALS, *HOST_REFUSALS) as error:
        sys.stderr.write(f"belay: error: {_message(error)}\n")
        return exit_status(error) or EXIT_USAGE


def _message(error: BaseException) -> str:
    """``error`` in one line; a local ``OSError`` names its file and says what went wrong."""
    if isinstance(error, OSError) and not isinstance(error, BOARD_REFUSALS) and error.strerror:
        where = f"{error.filename}: " if error.filename else ""
        return f"{where}{error.strerror}"
    return "; ".join(line.strip() for line in str(error).splitlines() if line.strip())


def progress_bar(args: argparse.Namespace) -> Progress | None:
    """A progress bar on a terminal, unless the output is JSON; none when piped."""
    if getattr(args, "json", False) or not sys.stdout.isatty():
        return None
    from rich.console import Console
    from rich.progress import Progress

    return Progress(console=Console(file=sys.stderr), transient=True)


def print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


async def sync_with_progress(args: argparse.Namespace, session: DeviceSession, local: Path, remote: str, *,
                             delete: bool = False, dry_run: bool = False) -> SyncReport:  # fmt: skip
    """``session.fs.sync`` with the command's ``--exclude``/``--include``, a bar on a terminal."""
    options: dict[str, Any] = {
        "delete": delete,
        "dry_run": dry_run,
        "exclude": getattr(args, "exclude", ()),
        "include": getattr(args, "include", ()),
        "mpy": getattr(args, "mpy", False),
    }
    bar = progress_bar(args)
    if bar is None:
        return await session.fs.sync(local, remote, **options)
    with bar:
        task = bar.add_task("sending", total=None)

        def progress(path: str, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, description=path)

        return await session.fs.sync(local, remote, progress=progress, **options)


def summary(report: SyncReport, out: TextIO) -> None:
    would = "would be " if report.dry_run else ""
    for path in report.uploaded:
        out.write(f"{would}sent     {path}\n")
    for path in report.removed:
        out.write(f"{would}removed  {path}\n")
    left_out = f", {len(report.skipped)} skipped (--json lists why)" if report.skipped else ""
    out.write(
        f"{len(report.uploaded)} {would}sent ({report.bytes_sent} B), {len(report.removed)} {would}removed, "
        f"{len(report.unchanged)} unchanged{left_out}\n"
    )


def handler(do: Callable[[argparse.Namespace, DeviceSession], Awaitable[int]]) -> Any:
    """A command's handler: ``do(args, session)`` in a session of its own."""
    return lambda args, container: run_in_session(args, container, lambda s: do(args, s))


__all__ = [
    "EXIT_OK",
    "board_path",
    "handler",
    "print_json",
    "run_in_session",
    "summary",
    "sync_with_progress",
]
