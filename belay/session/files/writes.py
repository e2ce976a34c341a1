"""The write path of ``session.fs``: a file written whole or not at all.

A put writes a temporary file beside its target, registered with the agent as the session's,
and renames it over the target in the call that carries the last chunk (where the board has
no ``os.rename``, the micro:bit, parts and a copy, or a write in place when its flash cannot
hold both). Many small files go many to a call (:mod:`belay.session.files.batch`), each still
through a temporary file of its own.
"""

from __future__ import annotations

import logging
from errno import ENOSPC

import anyio

from belay.agent import calls
from belay.errors import DeviceExecError, RemoteFileNotFoundError
from belay.heap import roomy_for_transfers
from belay.session.context import SessionContext, Timeout
from belay.session.files import batch, flash, transfer
from belay.session.files.cache import Features, FileCache
from belay.session.files.errors import ENOENT, errno_of, write_error

logger = logging.getLogger(__name__)

TEMP_PREFIX = ".belay-"
"""A put's temporary file is ``.belay-<session id>-<n>.part`` beside its target (the session's
end or reaping removes one a dead host left)."""

CLOSE_TIMEOUT = 20.0
"""How long closing a file after a failed or cancelled transfer may take."""

_IN_PLACE = (
    "%s: no room on %s's flash for a second copy of %d bytes: writing it in place "
    "(until complete, a failure loses the old copy)"
)


def board_error(path: str, port: str, error: DeviceExecError) -> DeviceExecError:
    """``error`` as the file error it is: a missing ``path`` is :class:`RemoteFileNotFoundError`."""
    if errno_of(error) == ENOENT:
        return RemoteFileNotFoundError(path, port, error)
    return error


class FileWrites:
    """Writes files to one session's board, whole or not at all."""

    def __init__(self, session: SessionContext) -> None:
        self.session = session
        self._temp_count = 0

    async def plan(self, timeout: Timeout) -> tuple[transfer.TransferPlan, Features]:
        """How transfers go on this board (its features asked once per agent install)."""
        known = self.known()
        if known.features is None:
            roomy = roomy_for_transfers(self.session.capabilities)
            answer = await self.session.run_value(calls.file_transfer_features(roomy), timeout=timeout)
            known.features = Features.parse(answer)
        return transfer.plan_for(self.session.capabilities, known.features), known.features

    def known(self) -> FileCache:
        """What belay knows of the board's files (shared by its sessions)."""
        return self.session.board.files

    async def size(self, path: str, timeout: Timeout) -> int:
        """The size of ``path`` on the board, -1 if it is not there (os.size on the micro:bit)."""
        size = await self.session.run_value(
            calls.file_size(self.known().on_board(path), self.session.capabilities.threads), timeout=timeout
        )
        return size if isinstance(size, int) else -1

    async def write(self, path: str, data: bytes, temporary: bool, timeout: Timeout) -> None:
        """Write ``data`` to a temporary file beside ``path`` and rename it over ``path`` in the
        last call; the agent's records then say ``path`` is this session's (``temporary``) or
        no session's. On any failure or cancel the temporary file is removed.

        Where the board cannot rename (the micro:bit), the temporary file is written as parts
        and copied over the old file; when its flash cannot hold both (ENOSPC, the old file
        still whole), the file is written in place instead, with a warning."""
        plan, features = await self.plan(timeout)
        part, on_board = transfer.PART_CHUNKS * plan.chunk, self.known().on_board(path)
        if await flash.must_write_in_place(self.session, path, on_board, len(data), part, timeout):
            logger.warning(_IN_PLACE, path, self.session.port, len(data))
            await self._write_in_place(path, data, temporary, timeout)
            return
        upload = self._upload(path, temporary, features.rename)
        upload.decides = not features.rename
        try:
            await self._send(upload, data, plan, features, timeout)
        except DeviceExecError as error:
            await self._abort(upload.abort_code(), upload.temp_name)
            if not await self._fits_in_place(upload, error, len(data), timeout):
                raise self._refused(path, error) from None
            logger.warning(_IN_PLACE, path, self.session.port, len(data))
            await self._write_in_place(path, data, temporary, timeout)

    async def write_batch(self, files: list[tuple[str, bytes]], timeout: Timeout) -> bool:
        """Write small ``(path, data)`` files in one call, each through its own temporary file
        renamed over its target when whole. ``False`` when the board refused it (the files
        written before the refusal are whole; none is partial) or a name cannot go in a batch
        (:func:`~belay.session.files.batch.fits`): write them one by one to learn which
        failed and why. A cancel removes the temporary files and raises."""
        plan, _ = await self.plan(timeout)
        on_board = self.known().on_board
        prefix = on_board("x")[:-1]
        uploads = [self._upload(path, False, True) for path, _ in files]
        if not all(batch.fits(upload.target_name, prefix, on_board) for upload in uploads):
            return False
        sending = [
            (upload.target_name, upload.temp_name, data)
            for upload, (_, data) in zip(uploads, files, strict=True)
        ]
        code = batch.batch_code(self.session.token, prefix, sending, plan)
        abort = batch.abort_code(self.session.token, prefix, [upload.temp_name for upload in uploads])
        what = f"a batch of {len(files)} files"
        try:
            await self.session.run(code, timeout=timeout)
        except DeviceExecError as error:
            logger.debug("%s refused on %s: %s", what, self.session.port, error)
            await self._abort(abort, what)
            return False
        except BaseException:
            await self._abort(abort, what)
            raise
        return True

    async def _fits_in_place(
        self, upload: transfer.Upload, error: DeviceExecError, size: int, timeout: Timeout
    ) -> bool:
        """Whether a put of ``size`` bytes that filled the flash writing parts (the old file
        whole) fits over the old file: in the old file's room and what the parts took."""
        if upload.renames or upload.temp_path == upload.target_path or errno_of(error) != ENOSPC:
            return False
        return size <= await self.size(upload.target_name, timeout) + upload.written

    async def _write_in_place(self, path: str, data: bytes, temporary: bool, timeout: Timeout) -> None:
        """Write ``data`` straight to ``path``, which is the session's until complete (so a
        failed or cancelled write is removed: no partial file is left)."""
        plan, features = await self.plan(timeout)
        upload = self._upload(path, temporary, features.rename)
        upload.in_place()
        try:
            await self._send(upload, data, plan, features, timeout)
        except DeviceExecError as error:
            await self._abort(upload.abort_code(), upload.temp_name)
            raise self._refused(path, error) from None

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
            await self._abort(upload.abort_code(), upload.temp_name)
            raise

    def _refused(self, path: str, error: DeviceExecError) -> DeviceExecError:
        return write_error(path, self.session.port, board_error(path, self.session.port, error))

    def _upload(self, path: str, temporary: bool, renames: bool) -> transfer.Upload:
        """A put of ``path`` through ``.belay-<session>-<n>.part`` beside it (or, where the
        board cannot rename, parts ``.belay-<session>-<n>.0``, ``.1``...)."""
        self._temp_count += 1
        folder, _, _ = path.rpartition("/")
        name = f"{TEMP_PREFIX}{self.session.session_id}-{self._temp_count}." + ("part" if renames else "")
        temp = f"{folder}/{name}" if folder else name
        on_board = self.known().on_board
        token = self.session.token
        return transfer.Upload(token, on_board(temp), temp, on_board(path), path, temporary, renames)

    async def _abort(self, code: str, what: str) -> None:
        """Remove a failed or cancelled put's temporary files (best effort: if this fails, the
        session's end removes them)."""
        if not self.session.is_active:
            return
        with anyio.move_on_after(CLOSE_TIMEOUT, shield=True):
            try:
                await self._run_with_room(code)
            except Exception as error:  # the failure that brought us here matters more
                logger.warning("could not remove %s on %s: %s", what, self.session.port, error)

    async def _run_with_room(self, code: str) -> None:
        """Run ``code``; where the board had no room for it (a small heap a cancelled put left
        fragmented: the micro:bit), collect its garbage and run it once more."""
        try:
            await self.session.run(code)
        except DeviceExecError as error:
            if error.remote_type != "MemoryError":
                raise
            await self.session.run(calls.collect_garbage())
            await self.session.run(code)
