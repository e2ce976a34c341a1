"""The one error tree of belay: every failure a user can cause is a :class:`BelayError`.

Each error carries its context as attributes (the port, the remote type name, ...), so a
caller can act on it without parsing the message. No error's message or ``repr`` holds the code
sent to the board; :func:`redact` and :func:`redact_error` take secrets (session tokens) out of
what a board sends back, before it reaches a message.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar


class BelayError(Exception):
    """Base class of every error raised by belay."""


# --- transports -------------------------------------------------------------------------


class TransportError(BelayError):
    """The byte stream to a board could not be opened or used."""

    def __init__(self, message: str, *, port: str | None = None) -> None:
        super().__init__(message)
        self.port = port


class PortNotFoundError(TransportError):
    """No board is at that port (missing path, not a serial device, unknown board kind)."""


class PortBusyError(TransportError):
    """Another process holds the port open."""


class ConnectionLostError(TransportError):
    """The board went away during use: cable pulled, pty closed, process killed or rebooted."""

    def __init__(self, message: str, *, port: str | None = None, rebooted: bool = False) -> None:
        super().__init__(message, port=port)
        self.rebooted = rebooted


# --- protocol ---------------------------------------------------------------------------


class ProtocolError(BelayError):
    """The board sent bytes that do not fit the raw-REPL protocol."""

    def __init__(self, message: str, *, received: bytes = b"") -> None:
        super().__init__(message)
        self.received = received


class NotMicroPythonError(ProtocolError):
    """Something answered on the port, but not a MicroPython raw REPL."""

    def __init__(self, message: str, *, port: str | None = None, received: bytes = b"") -> None:
        super().__init__(message, received=received)
        self.port = port


# --- calls ------------------------------------------------------------------------------


class DeviceTimeoutError(BelayError, TimeoutError):
    """A call did not finish within its deadline; the board was interrupted.

    Raised ``from None``, so a traceback reads like a board error's (the caller's line, then
    what timed out, after how long, on which board); the event loop's own exception (anyio's
    cancellation) stays in :attr:`cause` for a debugger, and in the log at debug level."""

    def __init__(
        self,
        message: str,
        *,
        timeout: float | None = None,
        port: str | None = None,
        cause: BaseException | None = None,
    ) -> None:
        super().__init__(message)
        self.timeout = timeout
        self.port = port
        self.cause = cause


class DeviceExecError(BelayError):
    """Code raised an exception on the board.

    ``remote_type`` is the exception's type name on the board (``"ZeroDivisionError"``),
    ``remote_message`` its message and ``remote_traceback`` the board's full traceback text (LF
    line endings). ``str()`` of the error is its :attr:`summary` line followed by the board's
    traceback, so a test report shows where on the board it was raised.
    """

    def __init__(self, remote_type: str, remote_message: str, remote_traceback: str) -> None:
        self.remote_type = remote_type
        self.remote_message = remote_message
        self.remote_traceback = remote_traceback.replace("\r\n", "\n").replace("\r", "\n")
        self.hint: str | None = None
        """What the host knows that may explain the error (shown after the summary)."""
        super().__init__(self.summary)

    @property
    def summary(self) -> str:
        """One line: ``"ZeroDivisionError: divide by zero"``."""
        return f"{self.remote_type}: {self.remote_message}" if self.remote_message else self.remote_type

    def __str__(self) -> str:
        summary = self.summary if self.hint is None else f"{self.summary}\nhint: {self.hint}"
        board = self.remote_traceback.strip("\n")
        if not board.strip() or board.strip() == self.summary:
            return summary
        if board.startswith("Traceback"):
            return f"{summary}\n\nBoard {board[0].lower()}{board[1:]}"
        return f"{summary}\n\nBoard traceback:\n{board}"

    @classmethod
    def from_traceback(cls, error: bytes, *, truncated_at: int | None = None) -> DeviceExecError:
        """The exception a board's traceback text names.

        A traceback cut at ``truncated_at`` bytes lost its end, so its exception line is the
        first unindented one after ``Traceback ...``; the text is marked as cut.
        """
        text = error.decode("utf-8", "replace").replace("\r\n", "\n").strip()
        match = _ERROR_LINE.match(last := _exception_line(text.splitlines(), truncated_at is not None))
        if truncated_at is not None:
            text += TRACEBACK_TRUNCATED.format(limit=truncated_at)
        if match is None:
            return cls("Exception", last, text)
        return cls(match.group(1), (match.group(2) or "").strip(), text)


_ERROR_LINE = re.compile(r"^([A-Za-z_][\w.]*)(?::\s?(.*))?$")
TRACEBACK_TRUNCATED = "\n[belay: traceback truncated: at most {limit} bytes are kept]"


def _exception_line(lines: list[str], truncated: bool) -> str:
    """The line naming the exception: the last, or in a cut traceback the first unindented
    one after ``Traceback ...`` (the usual last line was dropped with the end)."""
    if not lines:
        return ""
    if not truncated:
        return lines[-1]
    heads = (line for line in lines if line[:1].strip() and not line.startswith("Traceback"))
    return next(heads, lines[-1])


class RemoteFileNotFoundError(DeviceExecError, FileNotFoundError):
    """The file (or directory) is not on the board: ``path`` and ``port`` say which.

    Also a :class:`FileNotFoundError`, so ``except FileNotFoundError`` catches it; ``error`` is
    the board's own :class:`DeviceExecError` (usually an ``OSError`` with ``ENOENT``).
    """

    def __init__(self, path: str, port: str, error: DeviceExecError) -> None:
        super().__init__(error.remote_type, error.remote_message, error.remote_traceback)
        self.path = path
        self.port = port

    def __str__(self) -> str:
        return (
            f"no file {self.path!r} on the board at {self.port} ({self.remote_type}: {self.remote_message})"
        )


class RemoteFolderNotFoundError(RemoteFileNotFoundError):
    """A folder a path needs is not on the board (``path`` is that folder)."""

    def __str__(self) -> str:
        return f"folder {self.path!r} does not exist on the board at {self.port}"


class RemoteFileExistsError(DeviceExecError, FileExistsError):
    """``path`` is already on the board (also a :class:`FileExistsError`)."""

    def __init__(self, path: str, port: str, error: DeviceExecError) -> None:
        super().__init__(error.remote_type, error.remote_message, error.remote_traceback)
        self.path = path
        self.port = port

    def __str__(self) -> str:
        return f"{self.path!r} already exists on the board at {self.port}"


WRITE_CAUSES = {
    28: "the board's filesystem is full (ENOSPC)",
    27: "the file is larger than the board allows (EFBIG)",
    36: "the name is too long for the board's filesystem (ENAMETOOLONG)",
    30: "the board's filesystem is read-only (EROFS)",
    13: "the board refused access (EACCES)",
    21: "it is a folder (EISDIR)",
}
"""What a board's ``OSError`` number means for a write, said plainly."""


class BoardFileError(DeviceExecError, OSError):
    """Writing ``path`` on the board at ``port`` failed for ``cause`` (its ``errno`` if known);
    nothing was left half-written: the old file, if any, is intact.

    Also an :class:`OSError` (``except OSError`` catches it); ``error`` is the board's own."""

    def __init__(self, path: str, port: str, error: DeviceExecError, errno: int | None) -> None:
        DeviceExecError.__init__(self, error.remote_type, error.remote_message, error.remote_traceback)
        self.path = path
        self.port = port
        self.errno = errno
        self.cause = WRITE_CAUSES.get(errno or -1, error.summary)

    def __str__(self) -> str:
        return (
            f"could not write {self.path!r} on the board at {self.port}: {self.cause} "
            f"({self.summary}); the board's old copy, if any, is unchanged"
        )


class DeviceValueError(BelayError):
    """A value could not cross the wire: not a Python literal, or too large (in bytes, or in the
    host memory it would take once read: see :data:`belay.literals.reader.MAX_MEMORY`).

    Where a size limit refused it, ``limit`` is that limit in bytes and ``port`` the board's.
    """

    def __init__(self, message: str, *, port: str | None = None, limit: int | None = None) -> None:
        super().__init__(message)
        self.port = port
        self.limit = limit


class DeviceCapabilityError(BelayError):
    """The board lacks what the operation needs (threads, timers, raw-paste, ...)."""

    def __init__(self, message: str, *, capability: str) -> None:
        super().__init__(message)
        self.capability = capability


# --- sessions ---------------------------------------------------------------------------


class SessionError(BelayError):
    """A session operation failed; ``recoverable`` says whether a retry may succeed."""

    def __init__(self, message: str, *, session_id: str | None = None, recoverable: bool = False) -> None:
        super().__init__(message)
        self.session_id = session_id
        self.recoverable = recoverable


class BoardOutOfMemoryError(SessionError):
    """The board's heap is so full that it cannot even compile the call that would free it;
    only a soft reset (which ends every session on it) gets it back. ``port`` says which."""

    def __init__(self, message: str, *, port: str) -> None:
        super().__init__(message)
        self.port = port


class SessionLimitError(SessionError):
    """Opening another session would exceed ``max_concurrent_sessions``."""

    def __init__(self, message: str, *, limit: int) -> None:
        super().__init__(message, recoverable=True)
        self.limit = limit


class ResourceCleanupError(BelayError):
    """One or more resources could not be removed; ``failures`` lists every one."""

    def __init__(self, message: str, failures: Sequence[tuple[str, BaseException]]) -> None:
        lines = [message, *(f"  {name}: {error!r}" for name, error in failures)]
        super().__init__("\n".join(lines))
        self.failures = list(failures)


# --- secrets ----------------------------------------------------------------------------

REDACTED = "<token>"
"""What :func:`redact` puts where a secret was."""


def redact(text: str, secrets: Iterable[str], placeholder: str = REDACTED) -> str:
    """``text`` with every occurrence of each (non-empty) secret replaced by ``placeholder``.

    For session tokens in what a board sends back (a ``KeyError`` naming a reaped session's
    token, a traceback): ``redact(error_text, [session.token])``. Longer secrets are replaced
    first, so one that contains another is replaced whole.
    """
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, placeholder)
    return text


E = TypeVar("E", bound=BaseException)


def redact_error(error: E, secrets: Iterable[str], placeholder: str = REDACTED) -> E:
    """``error`` with each secret replaced by ``placeholder`` in place, and returned.

    Scrubs its ``args`` (so its message and ``repr``), every text or bytes attribute
    (``remote_message``, ``remote_traceback``, ``received``, ...), its notes, the errors it lists
    (``ResourceCleanupError.failures``) and the errors it was raised from (``__cause__``,
    ``__context__``): ``raise redact_error(error, [session.token])``.
    """
    _Redactor(tuple(s for s in secrets if s), placeholder).error(error)
    return error


class _Redactor:
    def __init__(self, secrets: tuple[str, ...], placeholder: str) -> None:
        self.secrets = secrets
        self.placeholder = placeholder
        self.seen: set[int] = set()

    def error(self, error: BaseException) -> None:
        if not self.secrets or id(error) in self.seen:
            return
        self.seen.add(id(error))
        error.args = self.value(error.args)
        for name, value in list(vars(error).items()):
            setattr(error, name, self.value(value))
        for chained in (error.__cause__, error.__context__):
            if chained is not None:
                self.error(chained)

    def value(self, value: Any) -> Any:
        if isinstance(value, str):
            return redact(value, self.secrets, self.placeholder)
        if isinstance(value, bytes):
            placeholder = self.placeholder.encode()
            for secret in sorted(self.secrets, key=len, reverse=True):
                value = value.replace(secret.encode(), placeholder)
            return value
        if isinstance(value, BaseException):
            self.error(value)
            return value
        if type(value) in (list, tuple):
            return type(value)(self.value(item) for item in value)
        return value


__all__ = [
    "BelayError",
    "BoardFileError",
    "BoardOutOfMemoryError",
    "ConnectionLostError",
    "DeviceCapabilityError",
    "DeviceExecError",
    "DeviceTimeoutError",
    "DeviceValueError",
    "NotMicroPythonError",
    "PortBusyError",
    "PortNotFoundError",
    "ProtocolError",
    "RemoteFileExistsError",
    "RemoteFileNotFoundError",
    "RemoteFolderNotFoundError",
    "ResourceCleanupError",
    "SessionError",
    "SessionLimitError",
    "TransportError",
]
