"""Folders, trees and hashes on the board: ``session.fs.tree``, ``hash``, ``stat``, ``mkdir``,
``rmdir`` and ``rm_tree``.

One call walks a board folder (``device/file_tree.py``, sent when needed, never resident):
it prints a line per folder and per file (path, size, hash), read one by one with
:func:`belay.literals.loads`, so a tree of any size never sits whole in the board's heap. The
hash is sha256 where the board has ``hashlib``, else FNV-1a 32 (the micro:bit), which the host
computes the same way (:func:`local_hash`). Given the digests the host expects per folder
(:func:`folder_digest`), the walk prints the files of the folders that differ only: what
``sync`` sends and reads for an unchanged tree is a few bytes per folder.

Boards without folders (the micro:bit: ``os.listdir()``, ``os.size()``, no ``os.mkdir``)
refuse folder operations with :class:`~belay.errors.DeviceCapabilityError`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from belay import literals
from belay.agent import calls
from belay.errors import (
    BelayError,
    DeviceCapabilityError,
    DeviceExecError,
    DeviceValueError,
    RemoteFileExistsError,
    RemoteFileNotFoundError,
    RemoteFolderNotFoundError,
)
from belay.heap import roomy_for_transfers
from belay.session.context import DEFAULT, SessionContext, Timeout
from belay.session.files.cache import FileCache
from belay.session.files.errors import EEXIST, ENOENT, ENOTDIR, ENOTEMPTY, errno_of
from belay.session.files.paths import check_path, join

SHA256, FNV1A32 = "sha256", "fnv1a32"
ALGORITHMS = (SHA256, FNV1A32)
FULL = 64
"""Hex digits of a full hash (an FNV-1a 32 hash has 8 whatever is asked)."""

MISSING, FILE, FOLDER = 0, 1, 2


@dataclass(frozen=True, slots=True)
class TreeEntry:
    """A file or folder on the board. ``hash`` is ``"<algorithm>:<hex>"`` (``None`` for a folder)."""

    path: str
    size: int
    is_dir: bool
    hash: str | None = None


@dataclass(frozen=True, slots=True)
class FileStat:
    """What the board says of a path: its size (0 for a folder, as boards report it) and kind."""

    path: str
    size: int
    is_dir: bool


@dataclass(frozen=True, slots=True)
class Walk:
    """One walk's answer: the board's hash algorithm, what ``root`` is, the folders (relative
    paths, ``""`` for root) and the files printed ``(path, size, hash hex)``."""

    algorithm: str
    kind: int
    flat: bool
    folders: tuple[str, ...]
    files: tuple[tuple[str, int, str], ...]
    differ: tuple[str, ...] = ()
    """Folders of ``expect`` whose digest differed: their files are in ``files``; the files
    of the others in ``expect`` are as expected."""


# --- the host's side of the hashes ---------------------------------------------------------


def fnv1a32(data: bytes | bytearray | memoryview, value: int = 0x811C9DC5) -> int:
    """FNV-1a, 32 bits: the hash of boards without ``hashlib``."""
    for byte in bytes(data):
        value = ((value ^ byte) * 0x01000193) & 0xFFFFFFFF
    return value


def local_hash(data: bytes | bytearray | memoryview, algorithm: str) -> str:
    """The hex hash of ``data`` as a board using ``algorithm`` computes it."""
    if algorithm == SHA256:
        return hashlib.sha256(data).hexdigest()
    if algorithm == FNV1A32:
        return f"{fnv1a32(data):08x}"
    raise DeviceValueError(f"unknown board hash algorithm {algorithm!r}")


def folder_digest(files: Iterable[tuple[str, int, str]], algorithm: str, digits: int = 16) -> str:
    """The digest the walk compares for one folder: over ``name\\0size\\0hash\\n`` of its
    files (names, not paths; full hex hashes), sorted by name as the board sorts them."""
    lines = b"".join(f"{name}\0{size}\0{digest}\n".encode() for name, size, digest in sorted(files))
    return local_hash(lines, algorithm)[:digits]


def roomy(session: SessionContext) -> bool:
    """Whether the board's heap takes the sha256 part of the walk (else FNV-1a 32 only)."""
    return roomy_for_transfers(session.capabilities)


def expected_algorithm(session: SessionContext) -> str:
    """The hash a walk on this board most likely uses (the walk says which it did)."""
    return SHA256 if roomy(session) else FNV1A32


def parent_of(path: str) -> str:
    return path.rpartition("/")[0]


# --- the board's side ----------------------------------------------------------------------


async def walk(
    session: SessionContext,
    where: str,
    *,
    expect: Mapping[str, str] | None = None,
    algorithm: str = SHA256,
    digits: int = FULL,
    ignore: str = "",
    timeout: Timeout = DEFAULT,
) -> Walk:
    """Walk board path ``where`` (already on the board's terms, see ``FileCache.on_board``);
    folders whose digest (for ``algorithm``) is in ``expect`` print no files; names in
    ``where`` that start with ``ignore`` (if given) are skipped."""
    printed = await _run_walk(session, where, dict(expect or {}), (algorithm, digits, ignore), timeout)
    lines = printed.rstrip("\n").split("\n")
    answer = literals.loads(lines.pop() if lines else "")
    if not (isinstance(answer, tuple) and len(answer) == 3 and answer[0] in ALGORITHMS):
        raise DeviceValueError(f"walking {where!r}: the board answered {answer!r:.200}")
    folders: list[str] = [""] if answer[1] == FOLDER else []
    files: list[tuple[str, int, str]] = []
    differ: list[str] = []
    for line in filter(None, lines):
        entry = literals.loads(line)
        if isinstance(entry, tuple) and len(entry) == 1 and isinstance(entry[0], str):
            folders.append(entry[0])
        elif isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[0], str) and entry[1] == 0:
            differ.append(entry[0])
        elif _is_file_entry(entry):
            files.append(entry)
        else:
            raise DeviceValueError(f"walking {where!r}: the board printed {line!r:.200}")
    return Walk(answer[0], int(answer[1]), bool(answer[2]), tuple(folders), tuple(files), tuple(differ))


async def _run_walk(
    session: SessionContext, where: str, expect: dict[str, str], how: tuple[str, int, str], timeout: Timeout
) -> str:
    """What the walk printed: sha256 first where the heap allows, FNV-1a 32 if the board has
    no ``hashlib`` (one call more) or a small heap."""
    sha256 = roomy(session)
    while True:
        algorithm, digits, ignore = how
        *first, last = calls.file_tree(where, expect, algorithm, digits, roomy(session), sha256, ignore)
        try:
            for code in first:
                await session.run(code, timeout=timeout, on_output=_discard)
            return await session.run(last, timeout=timeout, on_output=_discard)
        except DeviceExecError as error:
            if first:  # what the pieces before defined stays, unless deleted
                await session.run(calls.forget_file_tree(), timeout=timeout)
            if not sha256 or calls.NO_HASHLIB not in error.remote_message:
                raise
            sha256 = False


def _is_file_entry(entry: object) -> bool:
    return (
        isinstance(entry, tuple)
        and len(entry) == 3
        and isinstance(entry[0], str)
        and isinstance(entry[1], int)
        and isinstance(entry[2], str)
    )


def _discard(_data: bytes) -> None:
    """What the walk prints is its answer, not the session's output."""


# --- errors --------------------------------------------------------------------------------


def _no_such(error: str = "[Errno 2] ENOENT") -> DeviceExecError:
    return DeviceExecError("OSError", error, f"OSError: {error}\n")


def _flat(port: str, what: str) -> DeviceCapabilityError:
    return DeviceCapabilityError(
        f"the board on {port} has a flat filesystem (no folders): {what}", capability="filesystem"
    )


# --- the operations ------------------------------------------------------------------------


class FileTree:
    """Folder, tree and hash operations of one session (``session.fs`` delegates here)."""

    def __init__(self, session: SessionContext) -> None:
        self.session = session

    @property
    def known(self) -> FileCache:
        return self.session.board.files

    async def tree(
        self, path: str = "", *, allow_outside: bool = False, hashes: bool = True, timeout: Timeout = DEFAULT
    ) -> list[TreeEntry]:
        """Every folder and file under ``path`` (the root by default), with sizes and hashes
        (``hashes=False``: none, ``hash`` is ``None``, and nothing is read)."""
        where = check_path(path, allow_outside=allow_outside, allow_root=True)
        async with self.known.lock:
            found = await walk(
                self.session, self.known.on_board(where), digits=FULL if hashes else 0, timeout=timeout
            )
            if found.kind == MISSING:
                raise await self._missing(where, timeout)
        entries = [TreeEntry(join(where, folder), 0, True) for folder in found.folders if folder]
        for name, size, digest in found.files:
            label = f"{found.algorithm}:{digest}" if hashes else None
            entries.append(TreeEntry(join(where, name), size, False, label))
        return sorted(entries, key=lambda entry: entry.path)

    async def hash(self, path: str, *, allow_outside: bool = False, timeout: Timeout = DEFAULT) -> str:
        """``"<algorithm>:<hex>"`` of file ``path`` as the board computes it (sha256, or
        FNV-1a 32 on boards without ``hashlib``)."""
        where = check_path(path, allow_outside=allow_outside)
        async with self.known.lock:
            found = await walk(self.session, self.known.on_board(where), timeout=timeout)
            if found.kind == MISSING:
                raise await self._missing(where, timeout)
        if found.kind == FOLDER:
            raise DeviceValueError(f"{where!r} is a folder on the board at {self.session.port}: hash a file")
        return f"{found.algorithm}:{found.files[0][2]}"

    async def stat(self, path: str, *, allow_outside: bool = False, timeout: Timeout = DEFAULT) -> FileStat:
        """The size and kind of ``path`` on the board."""
        where = check_path(path, allow_outside=allow_outside, allow_root=True)
        if not self.known.on_board(where):  # a flat board's root
            return FileStat(where, 0, True)
        async with self.known.lock:
            try:
                answer = await self.session.run_value(
                    calls.path_stat(self.known.on_board(where)), timeout=timeout
                )
            except DeviceExecError as error:
                if errno_of(error) != ENOENT:
                    raise
                raise await self._missing(where, timeout) from None
        if not (isinstance(answer, tuple) and len(answer) == 2 and isinstance(answer[1], int)):
            raise DeviceValueError(f"stat of {where!r}: the board answered {answer!r:.200}")
        return FileStat(where, answer[1], bool(answer[0]))

    async def mkdir(self, path: str, *, parents: bool = False, exist_ok: bool = False,
                    allow_outside: bool = False, timeout: Timeout = DEFAULT) -> None:  # fmt: skip
        """Make folder ``path``; with ``parents`` its missing parents too; ``exist_ok``: a
        folder already there is no error (as :meth:`pathlib.Path.mkdir`)."""
        where = check_path(path, allow_outside=allow_outside)
        parts = where.split("/")
        chain = ["/".join(parts[: end + 1]) for end in range(len(parts))] if parents else [where]
        async with self.known.lock:
            self.known.changed(where)
            await self._folders([self.known.on_board(folder) for folder in chain], where, exist_ok, timeout)

    async def make_folders(self, folders: list[str], *, timeout: Timeout = DEFAULT) -> None:
        """Make checked ``folders`` in the order given, those there already no error; the
        caller holds the board's file lock."""
        for folder in folders:
            self.known.changed(folder)
        on_board = [self.known.on_board(folder) for folder in folders]
        await self._folders(on_board, folders[-1], True, timeout)

    async def _folders(self, paths: list[str], where: str, exist_ok: bool, timeout: Timeout) -> None:
        try:
            await self.session.run(calls.make_folders(paths, exist_ok), timeout=timeout)
        except DeviceExecError as error:
            if error.remote_type == "AttributeError":
                raise _flat(self.session.port, f"folder {where!r} cannot be made there") from None
            number = errno_of(error)
            if number == EEXIST:
                raise RemoteFileExistsError(where, self.session.port, error) from None
            if number in (ENOENT, ENOTDIR):
                raise await self._missing(where, timeout, parent_only=True) from None
            raise

    async def rmdir(self, path: str, *, allow_outside: bool = False, timeout: Timeout = DEFAULT) -> None:
        """Remove the empty folder ``path``."""
        where = check_path(path, allow_outside=allow_outside)
        async with self.known.lock:
            self.known.changed(where)
            try:
                await self.session.run(calls.remove_paths([], [self.known.on_board(where)]), timeout=timeout)
            except DeviceExecError as error:
                if error.remote_type == "AttributeError":
                    raise _flat(self.session.port, f"no folder {where!r} to remove") from None
                number = errno_of(error)
                if number == ENOTEMPTY:
                    raise DeviceValueError(
                        f"folder {where!r} on the board at {self.session.port} is not empty "
                        "(rm_tree removes it with what it holds)"
                    ) from None
                if number == ENOENT:
                    raise await self._missing(where, timeout) from None
                if number == ENOTDIR:
                    raise DeviceValueError(
                        f"{where!r} is a file on the board, not a folder: rm removes it"
                    ) from None
                raise

    async def rm_tree(self, path: str, *, allow_outside: bool = False, timeout: Timeout = DEFAULT) -> None:
        """Remove ``path`` from the board: a file, or a folder with everything in it."""
        where = check_path(path, allow_outside=allow_outside)
        async with self.known.lock:
            found = await walk(self.session, self.known.on_board(where), digits=0, timeout=timeout)
            if found.kind == MISSING:
                raise await self._missing(where, timeout)
            files = [join(where, name) for name, _size, _digest in found.files]
            folders = sorted((join(where, f) for f in found.folders), key=lambda f: (-f.count("/"), f))
            await self.remove(files, folders, timeout=timeout)

    async def remove(self, files: list[str], folders: list[str], *, timeout: Timeout = DEFAULT) -> None:
        """Remove ``files`` then the emptied ``folders`` (in the order given) in one call; the
        caller holds the board's file lock. Another live session's temporary file is refused."""
        self.known.prune_temps(self.session.board.sessions)
        temps = [path for path in files if path in self.known.temps]
        for path in temps:
            owner = self.known.temps[path]
            if owner.session_id != self.session.session_id:
                raise DeviceValueError(
                    f"{path!r} is a temporary file of session {owner.session_id}: "
                    f"session {self.session.session_id} may not remove it"
                )
        on_board = self.known.on_board
        for path in [*files, *folders]:
            self.known.changed(path)
        for path in list(self.known.hashes):
            if any(path.startswith(folder + "/") for folder in folders):
                self.known.changed(path)
        code = calls.remove_paths([on_board(f) for f in files], [on_board(f) for f in folders], temps)
        try:
            await self.session.run(code, timeout=timeout)
        finally:
            for path in temps:
                self.known.release(path)

    async def _missing(self, where: str, timeout: Timeout, *, parent_only: bool = False) -> BelayError:
        """The error for ``where`` not being there: its folder's if that is missing too (or
        is a file), else its own (``parent_only``: say why ``where`` could not be made)."""
        parent = parent_of(where)
        if parent and self.known.on_board(parent):
            try:
                answer = await self.session.run_value(
                    calls.path_stat(self.known.on_board(parent)), timeout=timeout
                )
            except DeviceExecError as error:
                if errno_of(error) == ENOENT:
                    return RemoteFolderNotFoundError(parent, self.session.port, error)
                raise
            if isinstance(answer, tuple) and answer and not answer[0]:
                return DeviceValueError(
                    f"{parent!r} is a file on the board at {self.session.port}, not a folder"
                )
        if parent_only:
            return DeviceValueError(f"folder {where!r} could not be made on the board at {self.session.port}")
        return RemoteFileNotFoundError(where, self.session.port, _no_such())
