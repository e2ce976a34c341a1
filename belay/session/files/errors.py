"""A board's filesystem refusing an operation, said plainly: which board, which path, and why."""

from __future__ import annotations

import re

from belay.errors import BoardFileError, DeviceExecError

ENOENT, EEXIST, ENOTDIR, ENOTEMPTY = 2, 17, 20, 39
_ERRNO = re.compile(r"\[Errno (\d+)\]|^(\d+)$|\b(E[A-Z]+)\b")
_NAMES = {"ENOENT": 2, "EEXIST": 17, "ENOTDIR": 20, "EISDIR": 21, "ENOTEMPTY": 39, "EACCES": 13}


def errno_of(error: DeviceExecError) -> int | None:
    """The ``OSError`` number a board raised (``[Errno 2] ENOENT``, ``ENOENT``, ``28`` or the
    micro:bit's "file not found"), if its message gives one."""
    if error.remote_type != "OSError":
        return None
    if "not found" in error.remote_message.lower():  # the micro:bit: "file not found"
        return ENOENT
    match = _ERRNO.search(error.remote_message.strip())
    if match is None:
        return None
    number = match.group(1) or match.group(2)
    return int(number) if number else _NAMES.get(match.group(3) or "")


def write_error(path: str, port: str, error: DeviceExecError) -> DeviceExecError:
    """``error`` as a :class:`BoardFileError` when it is a filesystem refusal, else itself."""
    errno = errno_of(error)
    if errno is None and not (error.remote_type == "OSError" and error.remote_message):
        return error
    return BoardFileError(path, port, error, errno)


__all__ = ["BoardFileError", "errno_of", "write_error"]
