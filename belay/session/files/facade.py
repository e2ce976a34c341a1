"""Session-scoped files on a board: ``session.fs``.

Files move near the speed of the line (:mod:`belay.session.files.transfer`, encodings in
:mod:`belay.protocol.codec`): up as near-raw bytes literals, compressed where the board
inflates and the data shrinks; down as the board's raw output where it can write bytes.
A ``put`` writes a temporary file beside its target and renames it over the target when
complete, so an interrupted or failed put leaves the old file and no partial one (where a
board has no ``os.rename``, the micro:bit, a file over 2 KB is written in place: a failed put
removes it, leaving no partial file but not the old one either); ``get(..., to=path)`` writes
a local file the same way. Paths are relative to the board's filesystem
root; absolute paths and ``..`` are refused unless ``allow_outside=True``.

``ls`` asks the board every time (files made by session code or another host are listed).
The sha256 of every file ``put()`` wrote is kept per board
(:class:`~belay.session.board.Board`): an unchanged upload is skipped after a one-call size check.

Temporary files (``temp()``, ``put(..., temporary=True)``) are registered with the agent, whose
``end()`` removes them when the session ends; other files stay on the board.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from typing import TYPE_CHECKING

import anyio

from belay.agent import calls
from belay.errors import DeviceCapabilityError, DeviceExecError, DeviceValueError, RemoteFileNotFoundError
from belay.session.context import DEFAULT, SessionContext, Timeout
from belay.session.files import batch, transfer
from belay.session.files.cache import FileCache
from belay.session.files.errors import BoardFileError
from belay.session.files.paths import SEPARATORS, check_path
from belay.session.files.writes import CLOSE_TIMEOUT, FileWrites, board_error

if TYPE_CHECKING:  # imported where used: they import this module
    from collections.abc import Callable, Iterable, Sequence

    from belay.session.files.moves import DiskUsage, FileMoves
    from belay.session.files.sync import Progress, SyncReport
    from belay.session.files.tree import FileStat, FileTree, TreeEntry

logger = logging.getLogger(__name__)

CHUNK = transfer.SMALL_CHUNK
"""The most file bytes one call carries up on a small heap (roomy boards: far more)."""


class SessionFiles:
    """``session.fs``: put, get, ls, rm and session-scoped temporary files on the board.

    Every operation takes ``timeout=`` (per call it makes; default: the session's
    ``call_timeout``).
    """

    def __init__(self, session: SessionContext) -> None:
        self.session = session
        self.session_id = session.session_id
        self._temps: set[str] = set()
        self._temp_count = 0
        self._writes = FileWrites(session)

    # --- public API -------------------------------------------------------------------

    async def put(
        self,
        source: str | os.PathLike[str] | bytes | bytearray | memoryview,
        remote_path: str | None = None,
        *,
        temporary: bool = False,
        allow_outside: bool = False,
        timeout: Timeout = DEFAULT,
    ) -> bool:
        """Write ``source`` (a local file's path, or bytes) to ``remote_path`` on the board.

        ``remote_path`` defaults to the local file's name. Returns ``False`` when the board
        already holds exactly these bytes there (written by ``put``), ``True`` when written.
        With ``temporary=True`` the file is removed when the session ends.
        """
        if isinstance(source, bytes | bytearray | memoryview):
            data = bytes(source)
            if remote_path is None:
                raise DeviceValueError("put() of bytes needs a remote_path")
        else:
            data = await anyio.Path(source).read_bytes()
            if remote_path is None:
                remote_path = os.path.basename(os.fspath(source))
        path = check_path(remote_path, allow_outside=allow_outside, file=True)
        wanted = (hashlib.sha256(data).hexdigest(), len(data))
        known = self._writes.known()
        async with known.lock:
            self._not_anothers(known, path)
            unchanged = not temporary and path not in known.temps and known.hashes.get(path) == wanted
            if unchanged and await self._writes.size(path, timeout) == len(data):
                logger.debug("%s unchanged on %s: not written", path, self.session.port)
                return False
            known.changed(path)
            await self._writes.write(path, data, temporary, timeout)
            if temporary:
                self._adopt_temp(known, path)
            else:
                known.hashes[path] = wanted
                known.release(path)
        return True

    async def put_many(
        self,
        files: Sequence[tuple[bytes, str]],
        *,
        allow_outside: bool = False,
        timeout: Timeout = DEFAULT,
        sent: Callable[[str, int], None] | None = None,
    ) -> None:
        """Write each ``(data, remote_path)``, whatever the board holds there. Small files go
        many to a call where the board can rename, each through its own temporary file renamed
        over its target when whole; the others go as :meth:`put` sends them. Files are written
        in the order given; ``sent(path, size)`` is called after each.

        Raises what :meth:`put` raises, for the first file that fails (those before it are written).
        """
        paths = [check_path(path, allow_outside=allow_outside, file=True) for _, path in files]
        plan, features = await self._writes.plan(timeout)
        for group in batch.batches([len(data) for data, _ in files], plan, features.rename):
            chosen = [(paths[index], bytes(files[index][0])) for index in group]
            if len(chosen) == 1 or not await self._put_batch(chosen, timeout):
                for path, data in chosen:  # one by one: a refused batch then says which file and why
                    self._writes.known().changed(path)
                    await self.put(data, path, allow_outside=True, timeout=timeout)
                    if sent is not None:
                        sent(path, len(data))
            elif sent is not None:
                for path, data in chosen:
                    sent(path, len(data))

    async def _put_batch(self, files: list[tuple[str, bytes]], timeout: Timeout) -> bool:
        """Write small ``files`` in one call; ``False`` when the board refused it."""
        known = self._writes.known()
        async with known.lock:
            for path, _ in files:
                self._not_anothers(known, path)
                known.changed(path)
            if not await self._writes.write_batch(files, timeout):
                return False
            for path, data in files:
                known.hashes[path] = (hashlib.sha256(data).hexdigest(), len(data))
                known.release(path)
        return True

    async def get(
        self,
        remote_path: str,
        *,
        to: str | os.PathLike[str] | None = None,
        allow_outside: bool = False,
        timeout: Timeout = DEFAULT,
    ) -> bytes:
        """The bytes of ``remote_path`` on the board; with ``to``, also written to that local
        file (under a temporary name beside it, renamed when complete: a failed get leaves
        no partial file and an existing one unchanged)."""
        path = check_path(remote_path, allow_outside=allow_outside)
        known = self._writes.known()
        async with known.lock:
            self._not_anothers(known, path)
            plan, features = await self._writes.plan(timeout)
            try:
                data = await transfer.download(self.session, known.on_board(path), plan, features, timeout)
            except DeviceExecError as error:
                raise board_error(path, self.session.port, error) from None
            finally:
                await self._close_handle("r")
        if to is not None:
            await _write_local(os.fspath(to), data)
        return data

    async def ls(
        self,
        path: str = "",
        *,
        allow_outside: bool = False,
        refresh: bool = True,
        timeout: Timeout = DEFAULT,
    ) -> list[str]:
        """The sorted names in directory ``path`` (the root by default), as the board has them
        now. ``refresh`` is accepted and ignored (deprecated): the board is always asked."""
        del refresh
        where = check_path(path, allow_outside=allow_outside, allow_root=True)
        known = self._writes.known()
        async with known.lock:
            known.prune_temps(self.session.board.sessions)
            try:
                names = await self.session.run_value(
                    calls.list_directory(known.on_board(where)), timeout=timeout
                )
            except DeviceExecError as error:
                if where and error.remote_type == "TypeError":  # the micro:bit: os.listdir() only
                    raise DeviceCapabilityError(
                        f"the board on {self.session.port} has a flat filesystem: no directory {where!r}",
                        capability="filesystem",
                    ) from None
                raise board_error(where or ".", self.session.port, error) from None
            if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
                raise DeviceValueError(f"listing {where!r}: the board sent {names!r:.200}")
            return sorted(names)

    async def rm(self, remote_path: str, *, allow_outside: bool = False, timeout: Timeout = DEFAULT) -> None:
        """Remove ``remote_path`` from the board; :class:`RemoteFileNotFoundError` if it is not there."""
        path = check_path(remote_path, allow_outside=allow_outside)
        known = self._writes.known()
        async with known.lock:
            self._not_anothers(known, path)
            known.changed(path)
            try:
                await self.session.run(
                    calls.file_remove(self.session.token, known.on_board(path), path), timeout=timeout
                )
            except DeviceExecError as error:
                raise board_error(path, self.session.port, error) from None
            finally:
                known.release(path)

    async def temp(self, data: bytes | bytearray | memoryview, suffix: str = "", *,
                   timeout: Timeout = DEFAULT) -> str:  # fmt: skip
        """Write ``data`` to a new file named after the session; removed when the session ends."""
        if not isinstance(suffix, str) or SEPARATORS.search(suffix) or "\x00" in suffix:
            raise DeviceValueError(f"temp file suffix {suffix!r} must be a plain name part")
        self._temp_count += 1
        path = check_path(f"tmp-{self.session.session_id}-{self._temp_count}{suffix}")
        await self.put(bytes(data), path, temporary=True, timeout=timeout)
        return path

    def temporary_files(self) -> list[str]:
        """This session's temporary files (removed when it ends)."""
        return sorted(self._temps)

    def forget_temp(self, path: str) -> None:
        """``path`` is not this session's temporary file any more."""
        self._temps.discard(path)
        self.session.resources.unregister_file(path)

    # --- folders, trees, hashes and sync (belay/session/files/tree.py, sync.py) ----------

    def _tree(self) -> FileTree:
        from belay.session.files.tree import FileTree

        return FileTree(self.session)

    async def tree(self, path: str = "", *, allow_outside: bool = False,
                   timeout: Timeout = DEFAULT) -> list[TreeEntry]:  # fmt: skip
        """Every folder and file under ``path`` (sorted), with sizes and board-side hashes."""
        return await self._tree().tree(path, allow_outside=allow_outside, timeout=timeout)

    async def hash(self, path: str, *, allow_outside: bool = False, timeout: Timeout = DEFAULT) -> str:
        """``"sha256:<hex>"`` of a board file (``"fnv1a32:<hex>"`` where it has no ``hashlib``)."""
        return await self._tree().hash(path, allow_outside=allow_outside, timeout=timeout)

    async def stat(self, path: str, *, allow_outside: bool = False, timeout: Timeout = DEFAULT) -> FileStat:
        """The size and kind (file or folder) of ``path`` on the board."""
        return await self._tree().stat(path, allow_outside=allow_outside, timeout=timeout)

    async def mkdir(self, path: str, *, parents: bool = False, exist_ok: bool = False,
                    allow_outside: bool = False, timeout: Timeout = DEFAULT) -> None:  # fmt: skip
        """Make folder ``path`` (``parents``: its missing parents too), as ``pathlib.Path.mkdir``."""
        await self._tree().mkdir(path, parents=parents, exist_ok=exist_ok, allow_outside=allow_outside,
                                 timeout=timeout)  # fmt: skip

    async def rmdir(self, path: str, *, allow_outside: bool = False, timeout: Timeout = DEFAULT) -> None:
        """Remove the empty folder ``path``."""
        await self._tree().rmdir(path, allow_outside=allow_outside, timeout=timeout)

    async def rm_tree(self, path: str, *, allow_outside: bool = False, timeout: Timeout = DEFAULT) -> None:
        """Remove ``path``: a file, or a folder with everything in it."""
        await self._tree().rm_tree(path, allow_outside=allow_outside, timeout=timeout)

    async def sync(self, local_dir: str | os.PathLike[str], remote_dir: str = "", *, delete: bool = False,
                   exclude: Iterable[str] = (), include: Iterable[str] = (), dry_run: bool = False,
                   timeout: Timeout = DEFAULT, progress: Progress | None = None, mpy: bool = False,
                   ) -> SyncReport:  # fmt: skip
        """Make board folder ``remote_dir`` hold what ``local_dir`` holds, sending only what
        differs by the board's hashes; what no board wants is left out unless ``include``d
        (see :mod:`belay.session.files.sync`). With ``mpy``, modules go compiled for the board
        (:mod:`belay.session.files.mpy`; :class:`~belay.errors.DeviceCapabilityError` where it
        cannot load them)."""
        from belay.session.files.sync import sync

        return await sync(self._tree(), self, local_dir, remote_dir, delete=delete, exclude=exclude,
                          include=include, dry_run=dry_run, timeout=timeout, progress=progress,
                          mpy=mpy)  # fmt: skip

    def _moves(self) -> FileMoves:
        from belay.session.files.moves import FileMoves

        return FileMoves(self.session)

    async def rename(self, source: str, target: str, *, allow_outside: bool = False,
                     timeout: Timeout = DEFAULT) -> None:  # fmt: skip
        """Rename board file or folder ``source`` to ``target`` (see :mod:`belay.session.files.moves`)."""
        check = lambda path: self._not_anothers(self._writes.known(), path)  # noqa: E731
        await self._moves().rename(source, target, check=check, allow_outside=allow_outside, timeout=timeout)

    async def touch(self, path: str, *, allow_outside: bool = False, timeout: Timeout = DEFAULT) -> None:
        """Make an empty file at ``path`` unless something is there."""
        check = lambda where: self._not_anothers(self._writes.known(), where)  # noqa: E731
        await self._moves().touch(path, check=check, allow_outside=allow_outside, timeout=timeout)

    async def disk_usage(self, path: str = "", *, timeout: Timeout = DEFAULT) -> DiskUsage:
        """Total and free bytes of the board's filesystem (``DeviceCapabilityError`` where it cannot tell)."""
        return await self._moves().disk_usage(path, timeout=timeout)

    # --- internals --------------------------------------------------------------------

    async def _close_handle(self, which: str) -> None:
        """Close the session's open file ``which`` if it is (best effort, after a failure too)."""
        if not self.session.is_active:  # nothing was sent, or the board dropped the session
            return
        with anyio.move_on_after(CLOSE_TIMEOUT, shield=True):
            try:
                await self.session.run(calls.file_close(self.session.token, which))
            except Exception as error:  # the failure that brought us here matters more
                logger.warning("could not close a file on %s: %s", self.session.port, error)

    def _not_anothers(self, known: FileCache, path: str) -> None:
        """Refuse ``path`` if it is a temporary file of another live session on this board."""
        known.prune_temps(self.session.board.sessions)
        owner = known.temps.get(path)
        if owner is not None and owner is not self:
            raise DeviceValueError(
                f"{path!r} is a temporary file of session {owner.session_id}: "
                f"session {self.session.session_id} may not touch it"
            )

    def _adopt_temp(self, known: FileCache, path: str) -> None:
        known.temps[path] = self
        self._temps.add(path)
        self.session.resources.register_file(path)


async def _write_local(target: str, data: bytes) -> None:
    """Write ``data`` to local file ``target`` atomically: a temporary file beside it, renamed."""
    local = anyio.Path(target)
    temp = local.with_name(f".{local.name}.{os.getpid()}-{id(data):x}.part")
    try:
        await temp.write_bytes(data)
        await temp.replace(local)
    except BaseException:
        with anyio.CancelScope(shield=True), contextlib.suppress(OSError):
            await temp.unlink()
        raise


__all__ = ["CHUNK", "BoardFileError", "RemoteFileNotFoundError", "SessionFiles", "check_path"]
