"""What a session tells its user when the board says no: why a session is gone, and board
tracebacks that point at the host's code."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Protocol

from belay.errors import BelayError, DeviceExecError, SessionError, redact_error
from belay.tracebacks import CodeOrigin, add_source_lines, map_traceback

GONE_PREFIX = "belay:"
"""The agent's ``KeyError`` for a token it does not hold reads ``belay:<why>``."""


UNKNOWN = "the board does not know it (was the agent reloaded, or its records changed by code on the board?)"


class _Session(Protocol):
    session_id: str
    token: str

    @property
    def port(self) -> str: ...

    @property
    def lease(self) -> float: ...


class BoardErrors:
    """Turns a session's board errors into what its user should read."""

    def __init__(self, session: _Session) -> None:
        self._session = session
        self._origins: dict[str, CodeOrigin] = {}
        self._script: str | None = None

    def remember(self, name: str, file: str, first_line: int) -> None:
        self._origins[name] = CodeOrigin(file, max(1, first_line))

    @contextlib.contextmanager
    def script(self, filename: str | None) -> Iterator[None]:
        """Within the block, ``<module>`` frames of the board come from host file ``filename``."""
        self._script, before = filename, self._script
        try:
            yield
        finally:
            self._script = before

    def explain(self, error: DeviceExecError) -> BelayError:
        """``error`` with its traceback mapped to the host, or why the session is gone."""
        gone = self.gone(error)
        if gone is not error:
            return gone
        script = CodeOrigin(self._script, 1) if self._script else None
        text = map_traceback(error.remote_traceback, self._origins, script)
        files = {origin.file for origin in self._origins.values()} | ({script.file} if script else set())
        text = add_source_lines(text, files)
        error.remote_traceback = text
        return redact_error(error, [self._session.token])

    def gone(self, error: DeviceExecError) -> BelayError:
        """A :class:`SessionError` saying truthfully why the board no longer holds this
        session, when ``error`` says so; else ``error`` itself."""
        message = error.remote_message
        if error.remote_type != "KeyError" or not message.startswith(GONE_PREFIX):
            return error
        session = self._session
        why = {
            "lease": f"its lease ({session.lease:g}s) ran out and the board reaped it",
            "ended": "it was ended on the board by its host",
            "host": "it was ended on the board by another host (belay reap --all or belay clean)",
            "code": "it was ended by code running on the board",
            "lost": "it was ended as left behind by a lost connection",
        }.get(message[len(GONE_PREFIX) :], UNKNOWN)
        return SessionError(
            f"the board on {session.port} no longer holds session {session.session_id}: {why}",
            session_id=session.session_id,
            recoverable=True,
        )

    def rebooted(self) -> SessionError:
        session = self._session
        return SessionError(
            f"the board on {session.port} rebooted: session {session.session_id} and all it held are gone",
            session_id=session.session_id,
            recoverable=True,
        )
