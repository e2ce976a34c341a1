"""``belay fs ...`` and ``belay sync``: files on a board, with mpremote's path habit.

A leading ``:`` marks a board path (``:`` alone is the board's root); commands that only take
board paths (``ls``, ``cat``, ``rm``, ``mkdir``, ``tree``, ``hash``) accept them without it
too. Each command runs in a session of its own, ended when it is done. ``--json`` prints what
scripts read (``ls``, ``tree``, ``hash``, ``sync``); a progress bar shows on a terminal only.

Exit status: 0 success; 1 the board refused the operation (no such file, a folder on a flat
board, ...) or a local file could not be used; 2 the port or board could not be used.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import anyio

from belay.cli.common import add_port_options, port_for
from belay.errors import DeviceCapabilityError, DeviceValueError, RemoteFileNotFoundError
from belay.session.files.paths import join as join_board_path

if TYPE_CHECKING:  # imported when a command runs, not at every command's start-up
    from rich.progress import Progress

    from belay.container import Container
    from belay.session.files.sync import SyncReport
    from belay.session.session import DeviceSession

EXIT_OK, EXIT_REFUSED = 0, 1
Operation = Callable[["DeviceSession"], Awaitable[int]]


def refusals() -> tuple[type[BaseException], ...]:
    """The errors a command reports as a refusal (exit 1)."""
    from belay.errors import RemoteFileExistsError

    return (RemoteFileNotFoundError, RemoteFileExistsError, DeviceValueError, DeviceCapabilityError, OSError)


def board_path(text: str) -> str:
    """The board path in ``:path`` (or a bare path, for commands that take board paths only)."""
    return text[1:] if text.startswith(":") else text


def run_in_session(args: argparse.Namespace, container: Container, operation: Operation) -> int:
    """Open a session on the command's port, run ``operation``; a refusal is one line, exit 1."""
    port = port_for(args, container)

    async def main() -> int:
        manager = container.session_manager()
        async with manager, manager.session(port, on_output=None) as session:
            return await operation(session)

    refused = refusals()
    try:
        return anyio.run(main)
    except refused as error:
        sys.stderr.write(f"belay: error: {error}\n")
        return EXIT_REFUSED


def _progress(args: argparse.Namespace) -> Progress | None:
    """A progress bar on a terminal, unless the output is JSON; none when piped."""
    if getattr(args, "json", False) or not sys.stdout.isatty():
        return None
    from rich.console import Console
    from rich.progress import Progress

    return Progress(console=Console(file=sys.stderr), transient=True)


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


# --- the commands --------------------------------------------------------------------------


async def do_ls(args: argparse.Namespace, session: DeviceSession) -> int:
    path = board_path(args.path)
    from belay.session.files.tree import FileTree

    found = await FileTree(session).tree(path, hashes=False)  # sizes only: nothing is read
    entries = [entry for entry in found if entry.path.count("/") == _depth(path)]
    if args.json:
        _print_json(
            [{"name": e.path.rpartition("/")[2], "size": e.size, "is_dir": e.is_dir} for e in entries]
        )
        return EXIT_OK
    for entry in entries:
        name = entry.path.rpartition("/")[2] + ("/" if entry.is_dir else "")
        sys.stdout.write(f"{'' if entry.is_dir else entry.size:>9} {name}\n")
    return EXIT_OK


def _depth(path: str) -> int:
    """How many ``/`` the paths of ``path``'s own entries have."""
    parts = [part for part in path.split("/") if part not in ("", ".")]
    return len(parts)


async def do_cat(args: argparse.Namespace, session: DeviceSession) -> int:
    data = await session.fs.get(board_path(args.path))
    sys.stdout.buffer.write(data)
    sys.stdout.flush()
    return EXIT_OK


async def do_tree(args: argparse.Namespace, session: DeviceSession) -> int:
    entries = await session.fs.tree(board_path(args.path))
    if args.json:
        _print_json([{"path": e.path, "size": e.size, "is_dir": e.is_dir, "hash": e.hash} for e in entries])
        return EXIT_OK
    for entry in entries:
        label = entry.path + ("/" if entry.is_dir else f"  {entry.size} B  {entry.hash}")
        sys.stdout.write(label + "\n")
    return EXIT_OK


async def do_hash(args: argparse.Namespace, session: DeviceSession) -> int:
    path = board_path(args.path)
    algorithm, _, digest = (await session.fs.hash(path)).partition(":")
    if args.json:
        _print_json({"path": path, "algorithm": algorithm, "hash": digest})
    else:
        sys.stdout.write(f"{digest}  {path}  ({algorithm})\n")
    return EXIT_OK


async def do_rm(args: argparse.Namespace, session: DeviceSession) -> int:
    path = board_path(args.path)
    await (session.fs.rm_tree(path) if args.recursive else session.fs.rm(path))
    return EXIT_OK


async def do_mkdir(args: argparse.Namespace, session: DeviceSession) -> int:
    await session.fs.mkdir(board_path(args.path), parents=args.parents, exist_ok=args.parents)
    return EXIT_OK


async def do_cp(args: argparse.Namespace, session: DeviceSession) -> int:
    """``cp SRC DST``: exactly one side is a board path (``:``); ``-r`` copies a folder."""
    source, target = args.source, args.target
    if source.startswith(":") == target.startswith(":"):
        raise DeviceValueError("cp: mark exactly one of SRC and DST as a board path with ':'")
    if target.startswith(":"):
        return await _cp_up(args, session, Path(source), board_path(target))
    return await _cp_down(args, session, board_path(source), Path(target))


async def _cp_up(args: argparse.Namespace, session: DeviceSession, source: Path, target: str) -> int:
    into = not target or target.endswith("/") or await _is_board_folder(session, target)
    if await anyio.Path(source).is_dir():
        if not args.recursive:
            raise DeviceValueError(f"cp: {str(source)!r} is a folder: copy it with -r")
        name = (await anyio.Path(source).resolve()).name
        destination = join_board_path(target, name) if into else target.rstrip("/")
        report = await _sync_with_progress(args, session, source, destination, delete=False, exclude=())
        _summary(report, sys.stderr)
        return EXIT_OK
    destination = join_board_path(target, source.name) if into else target
    await session.fs.put(source, destination)
    return EXIT_OK


async def _cp_down(args: argparse.Namespace, session: DeviceSession, source: str, target: Path) -> int:
    stat = await session.fs.stat(source)
    name = source.rstrip("/").rpartition("/")[2]
    if not stat.is_dir:
        destination = target / name if await anyio.Path(target).is_dir() else target
        await anyio.Path(destination).write_bytes(await session.fs.get(source))
        return EXIT_OK
    if not args.recursive:
        raise DeviceValueError(f"cp: {source!r} is a folder on the board: copy it with -r")
    root = target / name if name and await anyio.Path(target).is_dir() else target
    for entry in await session.fs.tree(source):
        local = root / entry.path[len(source) :].lstrip("/")
        if entry.is_dir:
            await anyio.Path(local).mkdir(parents=True, exist_ok=True)
        else:
            await anyio.Path(local.parent).mkdir(parents=True, exist_ok=True)
            await anyio.Path(local).write_bytes(await session.fs.get(entry.path))
    return EXIT_OK


async def _is_board_folder(session: DeviceSession, path: str) -> bool:
    try:
        return (await session.fs.stat(path)).is_dir
    except RemoteFileNotFoundError:
        return False


async def do_sync(args: argparse.Namespace, session: DeviceSession) -> int:
    remote = board_path(args.remote)
    report = await _sync_with_progress(
        args,
        session,
        Path(args.local),
        remote,
        delete=args.delete,
        exclude=args.exclude,
        dry_run=args.dry_run,
    )
    if args.json:
        _print_json({"port": session.port, **report.as_dict()})
    else:
        _summary(report, sys.stdout)
    return EXIT_OK


async def _sync_with_progress(
    args: argparse.Namespace,
    session: DeviceSession,
    local: Path,
    remote: str,
    *,
    delete: bool,
    exclude: list[str] | tuple[str, ...],
    dry_run: bool = False,
) -> SyncReport:
    bar = _progress(args)
    if bar is None:
        return await session.fs.sync(local, remote, delete=delete, exclude=exclude, dry_run=dry_run)
    with bar:
        task = bar.add_task("sending", total=None)

        def progress(path: str, done: int, total: int) -> None:
            bar.update(task, completed=done, total=total, description=path)

        return await session.fs.sync(local, remote, delete=delete, exclude=exclude, dry_run=dry_run,
                                     progress=progress)  # fmt: skip


def _summary(report: SyncReport, out: TextIO) -> None:
    would = "would be " if report.dry_run else ""
    for path in report.uploaded:
        out.write(f"{would}sent     {path}\n")
    for path in report.removed:
        out.write(f"{would}removed  {path}\n")
    out.write(
        f"{len(report.uploaded)} {would}sent ({report.bytes_sent} B), {len(report.removed)} {would}removed, "
        f"{len(report.unchanged)} unchanged\n"
    )


# --- registration --------------------------------------------------------------------------


def _handler(do: Callable[[argparse.Namespace, DeviceSession], Awaitable[int]]) -> Any:
    return lambda args, container: run_in_session(args, container, lambda s: do(args, s))


def add_parser(commands: Any, name: str) -> None:
    """Register ``belay fs ...`` or ``belay sync`` (``name``) on the ``belay`` command's subparsers."""
    if name == "fs":
        _add_fs(commands)
    else:
        _add_sync(commands)


def _add_fs(commands: Any) -> None:
    fs = commands.add_parser(
        "fs", help="files on a board: ls, cat, cp, rm, mkdir, tree, hash (':' marks a board path)"
    )
    verbs = fs.add_subparsers(dest="fs_command", required=True, metavar="FS_COMMAND")
    specs: list[tuple[str, str, Callable[..., Awaitable[int]], str | None]] = [
        ("ls", "list a board folder", do_ls, ":"),
        ("cat", "print a board file", do_cat, None),
        ("tree", "every folder and file under a board path, with sizes and hashes", do_tree, ":"),
        ("hash", "a board file's hash as the board computes it (sha256, or FNV-1a 32)", do_hash, None),
        ("rm", "remove a board file (-r: a folder with everything in it)", do_rm, None),
        ("mkdir", "make a board folder", do_mkdir, None),
    ]
    for name, help_text, do, default in specs:
        verb = verbs.add_parser(name, help=help_text)
        verb.add_argument(
            "path", nargs="?" if default is not None else None, default=default, help="board path (:path)"
        )
        add_port_options(verb)
        if name in ("ls", "tree", "hash"):
            verb.add_argument("--json", action="store_true", help="print JSON")
        if name == "rm":
            verb.add_argument(
                "-r", "--recursive", action="store_true", help="remove a folder and what it holds"
            )
        if name == "mkdir":
            verb.add_argument(
                "--parents", action="store_true", help="make missing parents too; no error if there"
            )
        verb.set_defaults(handler=_handler(do))
    cp = verbs.add_parser("cp", help="copy a file to or from the board (':' marks the board side)")
    cp.add_argument("source")
    cp.add_argument("target")
    cp.add_argument(
        "-r", "--recursive", action="store_true", help="copy a folder (what is unchanged is not sent)"
    )
    add_port_options(cp)
    cp.set_defaults(handler=_handler(do_cp))


def _add_sync(commands: Any) -> None:
    sync = commands.add_parser(
        "sync", help="make a board folder hold what a local folder holds (only changes are sent)"
    )
    sync.add_argument("local", help="local folder")
    sync.add_argument("remote", nargs="?", default=":", help="board folder (default ':', the root)")
    sync.add_argument(
        "--delete", action="store_true", help="remove board files that are not in the local folder"
    )
    sync.add_argument("--dry-run", action="store_true", help="say what would change, change nothing")
    sync.add_argument(
        "--exclude", action="append", default=[], metavar="GLOB", help="skip matching paths (repeatable)"
    )
    sync.add_argument("--json", action="store_true", help="print the report as JSON")
    add_port_options(sync)
    sync.set_defaults(handler=_handler(do_sync))
