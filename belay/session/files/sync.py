"""``session.fs.sync``: make a board folder hold what a local folder holds, sending only what differs.

The comparison is by the board's own hashes, so changes made by other code or another host
are seen. The host sends the digest it expects of every folder (:func:`folder_digest`, 16 hex
digits each) with one walk (:func:`~belay.session.files.tree.walk`); the board answers a line
per folder and lists the files only of the folders that differ. An unchanged tree of 50 files
in 4 folders costs about a kilobyte both ways together, in one call.

Files go up through ``session.fs.put``; folders are made first, what is gone from the local
folder is removed only with ``delete=True``, and never the agent's own files or a live
session's temporary files. What is left out (:mod:`belay.session.files.ignore`: belay's
defaults, the folder's ``.belayignore``, ``exclude`` globs; ``include`` globs take back) is
neither sent nor removed; only regular files are read (:mod:`belay.session.files.local`), and
what is skipped is in the report.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import anyio

from belay.agent.names import FILE_PREFIX
from belay.board_info import Capabilities
from belay.errors import DeviceCapabilityError, DeviceValueError, RemoteFileNotFoundError
from belay.session.context import DEFAULT, Timeout
from belay.session.files.ignore import Ignore, matches_glob
from belay.session.files.local import LocalTree, Skipped, check_root, read_ignore_file, read_local_tree
from belay.session.files.paths import check_path, join
from belay.session.files.tree import (
    FOLDER,
    MISSING,
    FileTree,
    Walk,
    expected_algorithm,
    folder_digest,
    local_hash,
    parent_of,
    walk,
)

DIGITS = 16
"""Hex digits of the hashes and digests a sync compares (64 bits)."""


Keep = Callable[..., bool]
"""``keep(path, is_dir=False)``: whether board ``path`` (relative to the synced folder) is never removed."""

Progress = Callable[[str, int, int], None]
"""``progress(board_path, bytes_sent_so_far, bytes_to_send)``, after each file sent."""


class Uploader(Protocol):
    """What sync writes files with: ``session.fs``."""

    async def put_many(
        self, files: Sequence[tuple[bytes, str]], *, allow_outside: bool = False, timeout: Timeout = DEFAULT,
        sent: Callable[[str, int], None] | None = None,
    ) -> None: ...  # fmt: skip


@dataclass(frozen=True, slots=True)
class SyncReport:
    """What a sync did (or, with ``dry_run``, would do); board paths, sorted."""

    uploaded: tuple[str, ...]
    removed: tuple[str, ...]
    unchanged: tuple[str, ...]
    folders_made: tuple[str, ...] = ()
    bytes_sent: int = 0
    dry_run: bool = False
    skipped: tuple[Skipped, ...] = ()
    """Local paths (relative to the synced folder) not sent, and why: left out by default,
    by ``.belayignore`` or ``exclude``; symlinks to folders, dangling or in a loop; FIFOs,
    sockets, devices; unreadable files."""

    def as_dict(self) -> dict[str, Any]:
        return {
            key: list(value) if isinstance(value, tuple) else value for key, value in asdict(self).items()
        }


def is_excluded(path: str, patterns: Iterable[str]) -> bool:
    """Whether ``path`` (relative, ``/``-separated) or one of its names matches a pattern."""
    return matches_glob(path, patterns)


def local_tree(
    local_dir: str | os.PathLike[str], exclude: Iterable[str] = (), include: Iterable[str] = ()
) -> tuple[LocalTree, Ignore]:
    """What a sync of ``local_dir`` sends, and the rules that chose it (blocking: run it in a
    thread)."""
    root = check_root(local_dir)
    ignore = Ignore.build(read_ignore_file(root), exclude, include)
    return read_local_tree(root, ignore), ignore


def hashes_of(local: LocalTree, algorithm: str) -> dict[str, tuple[int, str]]:
    """``path -> (size, hash)`` of every local file, hashed as the board does with ``algorithm``."""
    return {path: (len(data), local_hash(data, algorithm)) for path, data in local.files.items()}


def expected_digests(local: LocalTree, hashes: dict[str, tuple[int, str]], algorithm: str) -> dict[str, str]:
    """The digest of every local folder's files, as the board computes it."""
    by_folder: dict[str, list[tuple[str, int, str]]] = {folder: [] for folder in local.folders}
    for path, (size, digest) in hashes.items():
        by_folder[parent_of(path)].append((path.rpartition("/")[2], size, digest))
    return {folder: folder_digest(files, algorithm, DIGITS) for folder, files in by_folder.items()}


@dataclass
class SyncPlan:
    """What to do, by path relative to the synced folders."""

    upload: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    make: list[str] = field(default_factory=list)
    remove_files: list[str] = field(default_factory=list)
    remove_folders: list[str] = field(default_factory=list)


def plan_sync(local: LocalTree, hashes: dict[str, tuple[int, str]], found: Walk, *, delete: bool,
              keep: Keep, compared: bool = True,
              twins: Mapping[str, str] | None = None) -> SyncPlan:  # fmt: skip
    """Compare the local tree with what the walk found; ``keep(path)``: never remove it.
    ``compared``: the board compared the digests (it hashes as the host guessed), so the
    folders it did not list hold what was expected. ``twins`` (``.mpy`` -> ``.py``): sources on
    the board that a compiled file sent replaces (removed: the board would import them first)."""
    board_files = {path: (size, digest) for path, size, digest in found.files}
    board_folders = set(found.folders)
    listed = set(found.differ) | (board_folders - local.folders) if compared else board_folders
    plan = SyncPlan(make=sorted(local.folders - board_folders, key=lambda f: (f.count("/"), f)))
    for path, (size, digest) in sorted(hashes.items()):
        on_board = board_files.get(path)
        same_folder = parent_of(path) in board_folders and parent_of(path) not in listed
        if same_folder or (on_board is not None and on_board == (size, digest[: len(on_board[1])])):
            plan.unchanged.append(path)
        else:
            plan.upload.append(path)
    if not delete:
        _refuse_conflicts(local, board_files, board_folders)
    else:
        kept = {parent_of(path) for path in board_files if keep(path)}
        kept = {ancestor for folder in kept for ancestor in _ancestors(folder)}
        plan.remove_files = sorted(p for p in board_files if p not in hashes and not keep(p))
        gone = (board_folders - local.folders) - kept
        plan.remove_folders = sorted((f for f in gone if not keep(f, True)), key=lambda f: (-f.count("/"), f))
    shadowing = {source for source in (twins or {}).values() if source in board_files}
    plan.remove_files = sorted(set(plan.remove_files) | shadowing)
    return plan


def _refuse_conflicts(
    local: LocalTree, board_files: dict[str, tuple[int, str]], board_folders: set[str]
) -> None:
    """A board file where a local folder is (or a folder where a file is) is removed with
    ``delete``; without, it is refused before anything changes."""
    for path in sorted(set(board_files) & local.folders):
        raise DeviceValueError(
            f"{path!r} is a file on the board but a folder here: remove it, or sync with delete=True"
        )
    for path in sorted(board_folders & set(local.files)):
        raise DeviceValueError(
            f"{path!r} is a folder on the board but a file here: remove it, or sync with delete=True"
        )


def _ancestors(folder: str) -> list[str]:
    parts = folder.split("/") if folder else []
    return ["", *("/".join(parts[: end + 1]) for end in range(len(parts)))]


async def sync(
    files: FileTree,
    uploader: Uploader,
    local_dir: str | os.PathLike[str],
    remote_dir: str = "",
    *,
    delete: bool = False,
    exclude: Iterable[str] = (),
    include: Iterable[str] = (),
    dry_run: bool = False,
    timeout: Timeout = DEFAULT,
    progress: Progress | None = None,
    mpy: bool = False,
) -> SyncReport:
    """Make board folder ``remote_dir`` (the root by default) hold what ``local_dir`` holds;
    with ``mpy``, its ``.py`` files compiled (:mod:`belay.session.files.mpy`)."""
    base = check_path(remote_dir, allow_root=True)
    local, ignore = await anyio.to_thread.run_sync(local_tree, local_dir, tuple(exclude), tuple(include))
    session, known = files.session, files.known
    twins: dict[str, str] = {}
    if mpy:
        local, twins = await _compiled(local, session.capabilities, session.port)
    algorithm = expected_algorithm(session)
    hashes = hashes_of(local, algorithm)
    expect = expected_digests(local, hashes, algorithm)
    async with known.lock:
        found = await walk(session, known.on_board(base), expect=expect, algorithm=algorithm, digits=DIGITS,
                           ignore="" if base else FILE_PREFIX, timeout=timeout)  # fmt: skip
    _check_target(found, base, local, session.port)
    if found.algorithm != algorithm:
        hashes = hashes_of(local, found.algorithm)
    keep = _keeper(files, base, ignore)
    plan = plan_sync(local, hashes, found, delete=delete, keep=keep, compared=found.algorithm == algorithm,
                     twins=twins)  # fmt: skip
    sent = sum(len(local.files[path]) for path in plan.upload)
    made = await _missing_chain(files, base, timeout) if found.kind == MISSING else []
    made += [join(base, p) for p in plan.make if p]
    report = SyncReport(
        uploaded=tuple(join(base, p) for p in plan.upload),
        removed=tuple(join(base, p) for p in [*plan.remove_files, *plan.remove_folders]),
        unchanged=tuple(join(base, p) for p in plan.unchanged),
        folders_made=tuple(made),
        bytes_sent=sent,
        dry_run=dry_run,
        skipped=tuple(local.skipped),
    )
    if not dry_run:
        await _apply(files, uploader, local, plan, base, made, timeout, progress)
    return report


async def _compiled(
    local: LocalTree, capabilities: Capabilities, port: str
) -> tuple[LocalTree, dict[str, str]]:
    """``local`` with its modules compiled for the board (refused before anything is written
    where the board cannot load what mpy-cross writes)."""
    from belay.session.files import mpy

    compiler = mpy.find_mpy_cross()
    emits = await anyio.to_thread.run_sync(mpy.emitted_version, compiler)
    mpy.check_board(capabilities, emits, port)
    return await anyio.to_thread.run_sync(mpy.compiled, local, compiler, emits)


async def _missing_chain(files: FileTree, base: str, timeout: Timeout) -> list[str]:
    """The folders to make for missing board folder ``base``: it, and those of its parents
    that are missing too (top first)."""
    chain = _ancestors(base)[1:]
    missing = [chain.pop()] if chain else []
    while chain:
        try:
            await files.stat(chain[-1], timeout=timeout)
        except RemoteFileNotFoundError:
            missing.insert(0, chain.pop())
        else:
            break
    return missing


def _check_target(found: Walk, base: str, local: LocalTree, port: str) -> None:
    """Refuse, before anything changes, a target that is a file, or folders on a flat board."""
    if found.kind not in (MISSING, FOLDER):
        raise DeviceValueError(f"{base!r} is a file on the board at {port}, not a folder to sync into")
    nested = sorted(local.folders - {""})
    if found.flat and (base or nested):
        what = f"folder {base!r}" if base else f"the local folder {nested[0]!r}"
        raise DeviceCapabilityError(
            f"the board on {port} has a flat filesystem: folders are refused there ({what}); "
            "sync a folder of files only, to the board's root",
            capability="filesystem",
        )


def _keeper(files: FileTree, base: str, ignore: Ignore) -> Keep:
    """Whether a board path (relative to ``base``) must never be removed: excluded, the
    agent's own files, or a temporary file of a live session."""
    known = files.known
    known.prune_temps(files.session.board.sessions)

    def keep(path: str, is_dir: bool = False) -> bool:
        board_path = join(base, path)
        agents = "/" not in board_path and board_path.startswith(FILE_PREFIX)  # never removed
        return agents or board_path in known.temps or ignore.why_on_board(path, is_dir) is not None

    return keep


async def _apply(files: FileTree, uploader: Uploader, local: LocalTree, plan: SyncPlan, base: str,
                 folders: list[str], timeout: Timeout, progress: Progress | None) -> None:  # fmt: skip
    """Remove, make folders, then send (removals first: a board file may stand where a folder goes)."""
    known = files.known
    if plan.remove_files or plan.remove_folders:
        async with known.lock:
            await files.remove([join(base, p) for p in plan.remove_files],
                               [join(base, p) for p in plan.remove_folders], timeout=timeout)  # fmt: skip
    if folders:
        async with known.lock:
            await files.make_folders(folders, timeout=timeout)
    total = sum(len(local.files[path]) for path in plan.upload)
    done = 0

    def sent(target: str, size: int) -> None:
        nonlocal done
        done += size
        if progress is not None:
            progress(target, done, total)

    sending = [(local.files[path], join(base, path)) for path in plan.upload]
    await uploader.put_many(sending, timeout=timeout, sent=sent)
