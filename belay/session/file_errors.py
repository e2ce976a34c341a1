"""A board's filesystem refusing a write, said plainly: which board, which path, and why."""

from __future__ import annotations

import re

from belay.errors import DeviceExecError

CAUSES = {
    28: "the board's filesystem is full (ENOSPC)",
    27: "the file is larger than the board allows (EFBIG)",
    36: "the name is too long for the board's filesystem (ENAMETOOLONG)",
    30: "the board's filesystem is read-only (EROFS)",
    13: "the board refused access (EACCES)",
    21: "it is a folder (EISDIR)",
}
_ERRNO = re.compile(r"(?:\[Errno\s*)?(\d+)")


def errno_of(error: DeviceExecError) -> int | None:
    """The errno of a board ``OSError``, if its message gives one."""
    if error.remote_type != "OSError":
        return None
    match = _ERRNO.match(error.remote_message.strip())
    return int(match.group(1)) if match else None


class BoardFileError(DeviceExecError, OSError):
    """Writing ``path`` on the board at ``port`` failed for ``cause`` (its ``errno`` if known);
    nothing was left half-written: the old file, if any, is intact.

    Also an :class:`OSError` (``except OSError`` catches it); ``error`` is the board's own."""

    def __init__(self, path: str, port: str, error: DeviceExecError, errno: int | None) -> None:
        DeviceExecError.__init__(self, error.remote_type, error.remote_message, error.remote_traceback)
        self.path = path
        self.port = port
        self.errno = errno
        self.cause = CAUSES.get(errno or -1, error.summary)

    def __str__(self) -> str:
        return (
            f"could not write {self.path!r} on the board at {self.port}: {self.cause} "
            f"({self.summary}); the board's old copy, if any, is unchanged"
        )


def write_error(path: str, port: str, error: DeviceExecError) -> DeviceExecError:
    """``error`` as a :class:`BoardFileError` when it is a filesystem refusal, else itself."""
    errno = errno_of(error)
    if errno is None and not (error.remote_type == "OSError" and error.remote_message):
        return error
    return BoardFileError(path, port, error, errno)
