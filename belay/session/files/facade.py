"""Session-scoped files on a board: ``session.fs``.

Files move near the speed of the line (:mod:`belay.session.files.transfer`, encodings in
:mod:`belay.session.files.codec`): up as near-raw bytes literals, compressed where the board
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
from errno import ENOSPC
from typing import TYPE_CHECKING

import anyio

from belay.agent import calls
from belay.errors import DeviceCapabilityError, DeviceExecError, DeviceValueError, RemoteFileNotFoundError
from belay.heap import roomy_for_transfers
from belay.session.context import DEFAULT, SessionContext, Timeout
from belay.session.files import flash, transfer
from belay.session.files.cache import Features, FileCache
from belay.session.files.errors import ENOENT, BoardFileError, errno_of, write_error
from belay.session.files.paths import SEPARATORS, check_path

if TYPE_CHECKING:  # imported where used: they import this module
    from collections.abc import Iterable

    from belay.session.files.moves import DiskUsage, FileMoves
    from belay.session.files.sync import Progress, SyncReport
    from belay.session.files.tree import FileStat, FileTree, TreeEntry

logger = logging.getLogger(__name__)

CHUNK = transfer.SMALL_CHUNK
"""The most file bytes one call carries up on a small heap (roomy boards: far more)."""

TEMP_PREFIX = ".belay-"
"""A put's temporary file is ``.belay-<session id>-<n>.part`` beside its target (the session's
end or reaping removes one a dead host left)."""

_IN_PLACE = (
    "%s: no room on %s's flash for a second copy of %d bytes: writing it in place "
    "(until complete, a failure loses the old copy)"
)
CLOSE_TIMEOUT = 20.0
"""How long closing a file after a failed or cancelled transfer may take."""


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
        known = self._known()
        async with known.lock:
            self._not_anothers(known, path)
            unchanged = not temporary and path not in known.temps and known.hashes.get(path) == wanted
            if unchanged and await self._size(path, timeout) == len(data):
                logger.debug("%s unchanged on %s: not written", path, self.session.port)
                return False
            known.changed(path)
            await self._write(path, data, temporary, timeout)
            if temporary:
                self._adopt_temp(known, path)
            else:
                known.hashes[path] = wanted
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
        known = self._known()
        async with known.lock:
            self._not_anothers(known, path)
            plan, features = await self._plan(timeout)
            try:
                data = await transfer.download(self.session, known.on_board(path), plan, features, timeout)
            except DeviceExecError as error:
                raise self._error(path, error) from None
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
        known = self._known()
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
                raise self._error(where or ".", error) from None
            if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
                raise DeviceValueError(f"listing {where!r}: the board sent {names!r:.200}")
            return sorted(names)

    async def rm(self, remote_path: str, *, allow_outside: bool = False, timeout: Timeout = DEFAULT) -> None:
        """Remove ``remote_path`` from the board; :class:`RemoteFileNotFoundError` if it is not there."""
        path = check_path(remote_path, allow_outside=allow_outside)
        known = self._known()
        async with known.lock:
            self._not_anothers(known, path)
            known.changed(path)
            try:
                await self.session.run(
                    calls.file_remove(self.session.token, known.on_board(path), path), timeout=timeout
                )
            except DeviceExecError as error:
                raise self._error(path, error) from None
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
        check = lambda path: self._not_anothers(self._known(), path)  # noqa: E731
        await self._moves().rename(source, target, check=check, allow_outside=allow_outside, timeout=timeout)

    async def touch(self, path: str, *, allow_outside: bool = False, timeout: Timeout = DEFAULT) -> None:
        """Make an empty file at ``path`` unless something is there."""
        check = lambda where: self._not_anothers(self._known(), where)  # noqa: E731
        await self._moves().touch(path, check=check, allow_outside=allow_outside, timeout=timeout)

    async def disk_usage(self, path: str = "", *, timeout: Timeout = DEFAULT) -> DiskUsage:
        """Total and free bytes of the board's filesystem (``DeviceCapabilityError`` where it cannot tell)."""
        return await self._moves().disk_usage(path, timeout=timeout)

    # --- internals --------------------------------------------------------------------

    async def _plan(self, timeout: Timeout) -> tuple[transfer.TransferPlan, Features]:
        """How transfers go on this board (its features asked once per agent install)."""
        known = self._known()
        if known.features is None:
            roomy = roomy_for_transfers(self.session.capabilities)
            answer = await self.session.run_value(calls.file_transfer_features(roomy), timeout=timeout)
            known.features = Features.parse(answer)
        return transfer.plan_for(self.session.capabilities, known.features), known.features

    def _known(self) -> FileCache:
        return self.session.board.files

    async def _size(self, path: str, timeout: Timeout) -> int:
        """The size of ``path`` on the board, -1 if it is not there (os.size on the micro:bit)."""
        size = await self.session.run_value(
            calls.file_size(self._known().on_board(path), self.session.capabilities.threads), timeout=timeout
        )
        return size if isinstance(size, int) else -1

    async def _write(self, path: str, data: bytes, temporary: bool, timeout: Timeout) -> None:
        """Write ``data`` to a temporary file beside ``path`` and rename it over ``path`` in the
        last call; the agent's records then say ``path`` is this session's (``temporary``) or
        no session's. On any failure or cancel the temporary file is removed.

        Where the board cannot rename (the micro:bit), the temporary file is written as parts
        and copied over the old file; when its flash cannot hold both (ENOSPC, the old file
        still whole), the file is written in place instead, with a warning."""
        plan, features = await self._plan(timeout)
        part, on_board = transfer.PART_CHUNKS * plan.chunk, self._known().on_board(path)
        if await flash.must_write_in_place(self.session, path, on_board, len(data), part, timeout):
            logger.warning(_IN_PLACE, path, self.session.port, len(data))
            await self._write_in_place(path, data, temporary, timeout)
            return
        upload = self._upload(path, temporary, features.rename)
        upload.decides = not features.rename
        try:
            await self._send(upload, data, plan, features, timeout)
        except DeviceExecError as error:
            await self._abort(upload)
            if not await self._fits_in_place(upload, error, len(data), timeout):
                raise write_error(path, self.session.port, self._error(path, error)) from None
            logger.warning(_IN_PLACE, path, self.session.port, len(data))
            await self._write_in_place(path, data, temporary, timeout)

    async def _fits_in_place(
        self, upload: transfer.Upload, error: DeviceExecError, size: int, timeout: Timeout
    ) -> bool:
        """Whether a put of ``size`` bytes that filled the flash writing parts (the old file
        whole) fits over the old file: in the old file's room and what the parts took."""
        if upload.renames or upload.temp_path == upload.target_path or errno_of(error) != ENOSPC:
            return False
        return size <= await self._size(upload.target_name, timeout) + upload.written

    async def _write_in_place(self, path: str, data: bytes, temporary: bool, timeout: Timeout) -> None:
        """Write ``data`` straight to ``path``, which is the session's until complete (so a
        failed or cancelled write is removed: no partial file is left)."""
        plan, features = await self._plan(timeout)
        upload = self._upload(path, temporary, features.rename)
        upload.in_place()
        try:
            await self._send(upload, data, plan, features, timeout)
        except DeviceExecError as error:
            await self._abort(upload)
            raise write_error(path, self.session.port, self._error(path, error)) from None

    async def _send(
        self, upload: transfer.Upload, data: bytes, plan: transfer.TransferPlan, features: Features,
        timeout: Timeout,
    ) -> None:  # fmt: skip
        """Run ``upload``'s calls; on a cancel or any other failure than the board's, remove
        what it wrote."""
        try:
            for code in upload.codes(data, plan, features):
                if not upload.decides:
                    await self.session.run(code, timeout=timeout)
                elif not await self.session.run_value(code, timeout=timeout):
                    upload.in_place()  # it was not there: nothing old to keep, no copy needed
                else:
                    upload.decides = False
        except DeviceExecError:
            raise
        except BaseException:
            await self._abort(upload)
            raise

    def _upload(self, path: str, temporary: bool, renames: bool) -> transfer.Upload:
        """A put of ``path`` through ``.belay-<session>-<n>.part`` beside it (or, where the
        board cannot rename, parts ``.belay-<session>-<n>.0``, ``.1``...)."""
        self._temp_count += 1
        folder, _, _ = path.rpartition("/")
        name = f"{TEMP_PREFIX}{self.session.session_id}-{self._temp_count}." + ("part" if renames else "")
        temp = f"{folder}/{name}" if folder else name
        on_board = self._known().on_board
        token = self.session.token
        return transfer.Upload(token, on_board(temp), temp, on_board(path), path, temporary, renames)

    async def _abort(self, upload: transfer.Upload) -> None:
        """Remove a failed or cancelled put's temporary file (best effort: if this fails, the
        session's end removes it)."""
        if not self.session.is_active:
            return
        with anyio.move_on_after(CLOSE_TIMEOUT, shield=True):
            try:
                await self.session.run(upload.abort_code())
            except Exception as error:  # the failure that brought us here matters more
                logger.warning("could not remove %s on %s: %s", upload.temp_name, self.session.port, error)

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

    def _error(self, path: str, error: DeviceExecError) -> DeviceExecError:
        if errno_of(error) == ENOENT:
            return RemoteFileNotFoundError(path, self.session.port, error)
        return error


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
