"""The local side of a sync: the folders and regular files under a local folder, read without
surprises.

What is left out (:mod:`belay.session.files.ignore`) is reported, not read: a folder left out
is not walked (unless ``include`` globs may take back something in it). Only regular files
are sent, opened without blocking and checked again once open, so a FIFO, a socket or a
device never hangs a sync. Symlinks to files are followed (their bytes are sent); a symlink
to a folder, a dangling symlink and a symlink loop are skipped with a warning that names
them, so a walk never recurses for ever.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from belay.errors import DeviceValueError
from belay.session.files.ignore import IGNORE_FILE, VENV_MARK, Ignore
from belay.session.files.paths import join

logger = logging.getLogger(__name__)

_KINDS = ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"))  # fmt: skip


@dataclass(frozen=True, slots=True)
class Skipped:
    """A local path a sync did not send (relative to the synced folder), and why."""

    path: str
    reason: str


@dataclass
class LocalTree:
    """A local folder: its folders (``""`` for itself) and files, by path relative to it, and
    what was skipped."""

    folders: set[str] = field(default_factory=lambda: {""})
    files: dict[str, bytes] = field(default_factory=dict)
    skipped: list[Skipped] = field(default_factory=list)

    def skip(self, path: str, reason: str, *, warn: bool = False) -> None:
        self.skipped.append(Skipped(path, reason))
        if warn:
            logger.warning("skipped %s: %s", path, reason)


def read_ignore_file(root: Path) -> str | None:
    """The text of ``root/.belayignore``, if there is one (blocking)."""
    try:
        return (root / IGNORE_FILE).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as error:
        raise DeviceValueError(f"cannot read {root / IGNORE_FILE}: {error}") from None


def check_root(local_dir: str | os.PathLike[str]) -> Path:
    """``local_dir`` as a folder to walk; refuses anything else, saying what it is."""
    root = Path(local_dir)
    shown = os.fspath(local_dir)
    try:
        found = root.stat()
    except OSError as error:
        what = "a symlink loop" if error.errno == errno.ELOOP else error.strerror or "cannot be read"
        raise DeviceValueError(f"local folder {shown!r}: {what.lower()}") from None
    if not stat.S_ISDIR(found.st_mode):
        raise DeviceValueError(f"{shown!r} is not a local folder")
    return root


def read_local_tree(local_dir: str | os.PathLike[str], ignore: Ignore) -> LocalTree:
    """The folders and regular files under ``local_dir`` that ``ignore`` keeps (blocking: run
    it in a thread)."""
    root = check_root(local_dir)
    found = LocalTree()
    _walk(root, "", ignore, found)
    return found


def _walk(folder: Path, here: str, ignore: Ignore, found: LocalTree) -> None:
    """Add what ``folder`` (``here`` relative to the root) holds."""
    try:
        entries = sorted(os.scandir(folder), key=lambda entry: entry.name)
    except OSError as error:
        found.skip(here, f"cannot be listed: {error.strerror}", warn=True)
        return
    for entry in entries:
        path = join(here, entry.name)
        if not _utf8(entry.name):
            shown = join(here, os.fsencode(entry.name).decode("utf-8", "backslashreplace"))
            found.skip(shown, "its name is not UTF-8, as a board's file names are", warn=True)
            continue
        is_dir = _is_dir(entry)
        venv = is_dir and os.path.isfile(os.path.join(entry.path, VENV_MARK))
        why = ignore.why(path, is_dir, venv=venv)
        if why is not None:
            found.skip(path, why)
            continue
        kind = _kind(entry, path, found)
        if kind == "dir":
            found.folders.add(path)
            _walk(Path(entry.path), path, ignore, found)
        elif kind == "file":
            _read(entry.path, path, found)


def _utf8(name: str) -> bool:
    """Whether ``name`` is text (not bytes the filesystem could not decode, kept as surrogates)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _is_dir(entry: os.DirEntry[str]) -> bool:
    """Whether ``entry`` is a folder, or a symlink to one (``False`` where it cannot be followed)."""
    try:
        return entry.is_dir()
    except OSError:
        return False


def _kind(entry: os.DirEntry[str], path: str, found: LocalTree) -> str | None:
    """``"dir"``, ``"file"``, or ``None`` for what is skipped (with a warning)."""
    try:
        mode = entry.stat(follow_symlinks=True).st_mode
    except OSError as error:
        if not entry.is_symlink():
            found.skip(path, f"cannot be read: {error.strerror}", warn=True)
        elif error.errno == errno.ELOOP:
            found.skip(path, "a symlink loop", warn=True)
        elif error.errno == errno.ENOENT:
            found.skip(path, f"a dangling symlink (to {os.readlink(entry.path)!r})", warn=True)
        else:
            found.skip(path, f"a symlink that cannot be followed: {error.strerror}", warn=True)
        return None
    if stat.S_ISDIR(mode):
        if entry.is_symlink():
            found.skip(path, "a symlink to a folder (not followed)", warn=True)
            return None
        return "dir"
    if stat.S_ISREG(mode):
        return "file"
    what = next((name for test, name in _KINDS if test(mode)), "not a regular file")
    found.skip(path, f"{what}: only regular files are sent", warn=True)
    return None


def _read(local: str, path: str, found: LocalTree) -> None:
    """Read regular file ``local`` into ``found`` (opened without blocking: a file that
    became a FIFO since it was listed is skipped, not waited on)."""
    try:
        handle = os.open(local, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as error:
        found.skip(path, f"cannot be read: {error.strerror}", warn=True)
        return
    with os.fdopen(handle, "rb") as file:
        if not stat.S_ISREG(os.fstat(file.fileno()).st_mode):
            found.skip(path, "not a regular file: only regular files are sent", warn=True)
            return
        found.files[path] = file.read()


__all__ = ["LocalTree", "Skipped", "check_root", "read_ignore_file", "read_local_tree"]
