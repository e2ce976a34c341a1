"""Renaming and touching board files, and the room on a board's filesystem:
``session.fs.rename``, ``touch`` and ``disk_usage``.

A board without ``os.rename`` (the micro:bit) refuses a rename with
:class:`~belay.errors.DeviceCapabilityError`; one without ``os.statvfs`` cannot tell its
room, and says so the same way. Neither the agent's own files nor another live session's
temporary files are renamed or touched.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from belay.agent import calls
from belay.agent.names import is_agent_file
from belay.errors import DeviceCapabilityError, DeviceExecError, DeviceValueError
from belay.session.context import DEFAULT, Timeout
from belay.session.files.errors import ENOENT, errno_of, write_error
from belay.session.files.paths import check_path
from belay.session.files.tree import FileTree

Check = Callable[[str], None]
"""Raises where a path is another live session's temporary file."""


@dataclass(frozen=True, slots=True)
class DiskUsage:
    """The room on the filesystem holding a board path, in bytes (as ``shutil.disk_usage``)."""

    total: int
    free: int

    @property
    def used(self) -> int:
        return self.total - self.free


class FileMoves(FileTree):
    """``rename``, ``touch`` and ``disk_usage`` of one session (``session.fs`` delegates here)."""

    def _own(self, path: str, check: Check) -> None:
        if "/" not in path and is_agent_file(path):
            raise DeviceValueError(
                f"{path!r} is belay's own file on the board at {self.session.port}: left alone"
            )
        check(path)

    async def rename(self, source: str, target: str, *, check: Check, allow_outside: bool = False,
                     timeout: Timeout = DEFAULT) -> None:  # fmt: skip
        """Rename board file or folder ``source`` to ``target`` (replacing a file there,
        where the board's filesystem does)."""
        old = check_path(source, allow_outside=allow_outside)
        new = check_path(target, allow_outside=allow_outside)
        async with self.known.lock:
            for path in (old, new):
                self._own(path, check)
                self.known.changed(path)
            try:
                await self.session.run(
                    calls.rename_path(self.known.on_board(old), self.known.on_board(new)), timeout=timeout
                )
            except DeviceExecError as error:
                if error.remote_type == "AttributeError":
                    raise DeviceCapabilityError(
                        f"the board on {self.session.port} cannot rename files (it has no os.rename)",
                        capability="rename",
                    ) from None
                if errno_of(error) != ENOENT:
                    raise write_error(new, self.session.port, error) from None
                raise await self._which_missing(old, new, timeout) from None

    async def _which_missing(self, old: str, new: str, timeout: Timeout) -> Exception:
        """The error for a rename the board answered ENOENT: ``old`` is not there, or the
        folder ``new`` goes in is not."""
        try:
            await self.session.run_value(calls.path_stat(self.known.on_board(old)), timeout=timeout)
        except DeviceExecError as error:
            if errno_of(error) == ENOENT:
                return await self._missing(old, timeout)
            raise
        return await self._missing(new, timeout, parent_only=True)

    async def touch(self, path: str, *, check: Check, allow_outside: bool = False,
                    timeout: Timeout = DEFAULT) -> None:  # fmt: skip
        """Make an empty file at ``path`` unless something is there (a file's bytes are kept;
        boards keep no times worth setting)."""
        where = check_path(path, allow_outside=allow_outside)
        async with self.known.lock:
            self._own(where, check)
            self.known.changed(where)
            try:
                await self.session.run(calls.touch_file(self.known.on_board(where)), timeout=timeout)
            except DeviceExecError as error:
                if errno_of(error) == ENOENT:
                    raise await self._missing(where, timeout, parent_only=True) from None
                raise write_error(where, self.session.port, error) from None

    async def disk_usage(self, path: str = "", *, allow_outside: bool = False,
                         timeout: Timeout = DEFAULT) -> DiskUsage:  # fmt: skip
        """The total and free bytes of the filesystem holding ``path`` (the root by default)."""
        where = check_path(path, allow_outside=allow_outside, allow_root=True)
        on_board = self.known.on_board(where) or "/"
        answer = await self.session.run_value(calls.filesystem_space(on_board), timeout=timeout)
        if answer is None:
            raise DeviceCapabilityError(
                f"the board on {self.session.port} cannot tell its filesystem's room (it has no os.statvfs)",
                capability="statvfs",
            )
        if not (isinstance(answer, tuple) and len(answer) == 2 and all(isinstance(n, int) for n in answer)):
            raise DeviceValueError(f"the room on {where or '/'!r}: the board answered {answer!r:.200}")
        return DiskUsage(answer[0], answer[1])


__all__ = ["DiskUsage", "FileMoves"]
