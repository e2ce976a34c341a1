"""``belay fs ...`` and ``belay df``: files on a board, with mpremote's path habit.

A leading ``:`` marks a board path (``:`` alone, or ``:/``, is the board's root; ``:/lib`` is
``lib``); commands that only take board paths (``ls``, ``cat``, ``rm``, ``mkdir``, ``tree``,
``hash``, ``mv``, ``touch``, ``df``) accept them without it too. Each command runs in a session
of its own, ended when it is done. ``--json`` prints what scripts read (``ls``, ``tree``,
``hash``, ``df``); a progress bar shows on a terminal only. A file copied down is written
beside its target and renamed over it when complete: a failed copy leaves the old file whole.

Exit status (:mod:`belay.cli.fs_common`): 0 success; 1 the board refused the operation (its
``OSError``: no such file, filesystem full); 2 a refusal decided on the host (a bad path, a
local file missing or not a regular file, a folder without ``-r``) or an unusable port.
"""

from __future__ import annotations

import argparse
import stat
import sys
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio

from belay.cli.common import EXIT_OK, CliError, add_port_options
from belay.cli.fs_common import board_path, handler, print_json, progress_bar, summary, sync_with_progress
from belay.cli.sync import add_filter_options
from belay.errors import DeviceCapabilityError, DeviceExecError, RemoteFileNotFoundError
from belay.session.files.paths import join as join_board_path

if TYPE_CHECKING:  # imported when a command runs, not at every command's start-up
    from belay.session.session import DeviceSession


# --- the commands --------------------------------------------------------------------------


async def do_ls(args: argparse.Namespace, session: DeviceSession) -> int:
    path = board_path(args.path)
    from belay.session.files.tree import FileTree

    found = await FileTree(session).tree(path, hashes=False)  # sizes only: nothing is read
    entries = [entry for entry in found if entry.path.count("/") == _depth(path)]
    if args.json:
        print_json([{"name": e.path.rpartition("/")[2], "size": e.size, "is_dir": e.is_dir} for e in entries])
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
    path = board_path(args.path)
    try:
        data = await session.fs.get(path)
    except DeviceExecError as error:
        raise await _if_folder(session, path, error, "list it with `belay fs ls`") from None
    sys.stdout.buffer.write(data)
    sys.stdout.flush()
    return EXIT_OK


async def _if_folder(session: DeviceSession, path: str, error: DeviceExecError, hint: str) -> Exception:
    """A board error on ``path``, or a one-line refusal with ``hint`` where it is a folder."""
    if isinstance(error, RemoteFileNotFoundError):
        return error
    if await _is_board_folder(session, path):
        return CliError(f"{path or '/'!r} is a folder on the board at {session.port}: {hint}")
    return error


async def do_tree(args: argparse.Namespace, session: DeviceSession) -> int:
    entries = await session.fs.tree(board_path(args.path))
    if args.json:
        print_json([{"path": e.path, "size": e.size, "is_dir": e.is_dir, "hash": e.hash} for e in entries])
        return EXIT_OK
    for entry in entries:
        label = entry.path + ("/" if entry.is_dir else f"  {entry.size} B  {entry.hash}")
        sys.stdout.write(label + "\n")
    return EXIT_OK


async def do_hash(args: argparse.Namespace, session: DeviceSession) -> int:
    path = board_path(args.path)
    algorithm, _, digest = (await session.fs.hash(path)).partition(":")
    if args.json:
        print_json({"path": path, "algorithm": algorithm, "hash": digest})
    else:
        sys.stdout.write(f"{digest}  {path}  ({algorithm})\n")
    return EXIT_OK


async def do_rm(args: argparse.Namespace, session: DeviceSession) -> int:
    path = board_path(args.path)
    if args.recursive:
        await session.fs.rm_tree(path)
        return EXIT_OK
    try:
        await session.fs.rm(path)
    except DeviceExecError as error:
        raise await _if_folder(session, path, error, f"remove it with -r (belay fs rm -r :{path})") from None
    return EXIT_OK


async def do_mkdir(args: argparse.Namespace, session: DeviceSession) -> int:
    await session.fs.mkdir(board_path(args.path), parents=args.parents, exist_ok=args.parents)
    return EXIT_OK


async def do_touch(args: argparse.Namespace, session: DeviceSession) -> int:
    await session.fs.touch(board_path(args.path))
    return EXIT_OK


async def do_mv(args: argparse.Namespace, session: DeviceSession) -> int:
    """``mv SRC DST``: both on the board; into DST where it is a folder. A board without
    ``os.rename`` (the micro:bit) gets a copy, then the old file removed."""
    source, target = board_path(args.source), board_path(args.target)
    if not target or target.endswith("/") or await _is_board_folder(session, target):
        target = join_board_path(target, source.rstrip("/").rpartition("/")[2])
    try:
        await session.fs.rename(source, target)
    except DeviceCapabilityError:
        if await _is_board_folder(session, source):
            raise
        await session.fs.put(await session.fs.get(source), target)
        await session.fs.rm(source)
    return EXIT_OK


async def do_cp(args: argparse.Namespace, session: DeviceSession) -> int:
    """``cp SRC DST``: exactly one side is a board path (``:``); ``-r`` copies a folder."""
    source, target = args.source, args.target
    if source.startswith(":") == target.startswith(":"):
        raise CliError("cp: mark exactly one of SRC and DST as a board path with ':'")
    if target.startswith(":"):
        return await _cp_up(args, session, Path(source), board_path(target))
    return await _cp_down(args, session, board_path(source), Path(target))


async def _cp_up(args: argparse.Namespace, session: DeviceSession, source: Path, target: str) -> int:
    mode = (await anyio.Path(source).stat()).st_mode  # a missing file or a symlink loop: its OSError
    into = not target or target.endswith("/") or await _is_board_folder(session, target)
    if stat.S_ISDIR(mode):
        if not args.recursive:
            raise CliError(f"cp: {str(source)!r} is a folder: copy it with -r")
        name = (await anyio.Path(source).resolve()).name
        destination = join_board_path(target, name) if into else target.rstrip("/")
        report = await sync_with_progress(args, session, source, destination)
        summary(report, sys.stderr)
        return EXIT_OK
    if not stat.S_ISREG(mode):
        raise CliError(f"cp: {str(source)!r} is not a regular file (a FIFO, socket or device): not copied")
    destination = join_board_path(target, source.name) if into else target
    with _bar(args, f"sending {destination}"):
        await session.fs.put(source, destination)
    return EXIT_OK


def _bar(args: argparse.Namespace, what: str) -> AbstractContextManager[Any]:
    """A pulsing bar with the time taken, on a terminal, while one file moves."""
    bar = progress_bar(args)
    if bar is None:
        return nullcontext()
    bar.add_task(what, total=None)
    return bar


async def _cp_down(args: argparse.Namespace, session: DeviceSession, source: str, target: Path) -> int:
    """Each file is written beside its local target and renamed over it when complete."""
    is_dir = (await session.fs.stat(source)).is_dir
    name = source.rstrip("/").rpartition("/")[2]
    if not is_dir:
        destination = target / name if await anyio.Path(target).is_dir() else target
        with _bar(args, f"receiving {source}"):
            await session.fs.get(source, to=destination)
        return EXIT_OK
    if not args.recursive:
        raise CliError(f"cp: {source or '/'!r} is a folder on the board: copy it with -r")
    root = target / name if name and await anyio.Path(target).is_dir() else target
    for entry in await session.fs.tree(source):
        local = root / entry.path[len(source) :].lstrip("/")
        if entry.is_dir:
            await anyio.Path(local).mkdir(parents=True, exist_ok=True)
        else:
            await anyio.Path(local.parent).mkdir(parents=True, exist_ok=True)
            await session.fs.get(entry.path, to=local)
    return EXIT_OK


async def _is_board_folder(session: DeviceSession, path: str) -> bool:
    try:
        return (await session.fs.stat(path)).is_dir
    except RemoteFileNotFoundError:
        return False


async def do_df(args: argparse.Namespace, session: DeviceSession) -> int:
    """``df [:path]``: the total and free bytes of the board's filesystem, where it can tell."""
    path = board_path(args.path)
    note = None
    if session.device_info.platform == "linux":
        note = "the unix virtual board's files live on the host's disk: these are that disk's numbers"
    try:
        usage = await session.fs.disk_usage(path)
    except DeviceCapabilityError as error:
        numbers: dict[str, int | None] = {"total": None, "used": None, "free": None}
        note = str(error)
    else:
        numbers = {"total": usage.total, "used": usage.used, "free": usage.free}
    if args.json:
        print_json({"port": session.port, "path": path, **numbers, "note": note})
        return EXIT_OK
    if numbers["total"] is not None and usage.total:
        share = round(100 * usage.used / usage.total)
        sys.stdout.write(f"{_human(usage.total)} total, {_human(usage.used)} used ({share}%), "
                         f"{_human(usage.free)} free on the board at {session.port}\n")  # fmt: skip
    if note is not None:
        sys.stdout.write(f"{note}\n")
    return EXIT_OK


def _human(size: int) -> str:
    """``size`` bytes as people read them: ``812 B``, ``30.0 KiB``, ``3.9 GiB``."""
    amount = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if amount < 1024:
            return f"{size} B" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{amount:.1f} TiB"


# --- registration --------------------------------------------------------------------------


def add_parser(commands: Any, name: str) -> None:
    """Register ``belay fs ...`` or ``belay df`` (``name``) on the ``belay`` command's subparsers."""
    if name == "fs":
        _add_fs(commands)
        return
    df = commands.add_parser("df", help="total and free bytes of a board's filesystem, where it can tell")
    df.add_argument(
        "path", nargs="?", default=":", help="board path whose filesystem (default ':', the root)"
    )
    df.add_argument("--json", action="store_true", help="print JSON")
    add_port_options(df)
    df.set_defaults(handler=handler(do_df))


SPECS: list[tuple[str, str, Callable[..., Awaitable[int]], str | None]] = [
    ("ls", "list a board folder", do_ls, ":"),
    ("cat", "print a board file", do_cat, None),
    ("tree", "every folder and file under a board path, with sizes and hashes", do_tree, ":"),
    ("hash", "a board file's hash as the board computes it (sha256, or FNV-1a 32)", do_hash, None),
    ("rm", "remove a board file (-r: a folder with everything in it)", do_rm, None),
    ("mkdir", "make a board folder", do_mkdir, None),
    ("touch", "make an empty board file unless one is there", do_touch, None),
]


def _add_fs(commands: Any) -> None:
    fs = commands.add_parser("fs", help="files on a board: ls, cat, cp, mv, rm, mkdir, touch, tree, hash "
                             "(':' marks a board path, ':/' its root)")  # fmt: skip
    verbs = fs.add_subparsers(dest="fs_command", required=True, metavar="FS_COMMAND")
    for name, help_text, do, default in SPECS:
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
        verb.set_defaults(handler=handler(do))
    cp = verbs.add_parser("cp", help="copy a file to or from the board (':' marks the board side)")
    cp.add_argument("source")
    cp.add_argument("target")
    cp.add_argument("-r", "--recursive", action="store_true", help="copy a folder (what is unchanged is not "
                    "sent; what no board wants is left out, as by sync)")  # fmt: skip
    add_filter_options(cp)
    add_port_options(cp)
    cp.set_defaults(handler=handler(do_cp))
    mv = verbs.add_parser("mv", help="rename or move a board file or folder (into DST if it is a folder)")
    mv.add_argument("source", help="board path (:path)")
    mv.add_argument("target", help="board path (:path)")
    add_port_options(mv)
    mv.set_defaults(handler=handler(do_mv))
