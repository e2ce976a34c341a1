"""Session options: one frozen record, from code, from ``BELAY_*`` variables, or from a mapping."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

ENV_PREFIX = "BELAY_"
"""What the environment variables belay reads start with."""


@dataclass(frozen=True, slots=True)
class SessionOptions:
    """How sessions behave. Times are seconds as floats.

    ``session_timeout``: an idle session is ended after this long.
    ``max_concurrent_sessions``: more raise :class:`~belay.errors.SessionLimitError`
    (or wait, with ``wait_for_session_slot``).
    ``cleanup_timeout``: the most a session's cleanup may take.
    ``call_timeout``: default deadline of one call (``None``: no deadline).
    ``lease``: how long a board keeps a silent session's resources before reaping them.
    ``journal_path``: where to journal session events (``None``: no journal).
    ``journal_max_bytes``: past this size the journal is rotated (one old file is kept).
    ``dtr``, ``rts``: the levels a serial port's DTR and RTS lines are held at while open
    (``True``, asserted, as a port opens: no board is reset by opening it).
    ``keep_modules``: leave the modules a session first imported in ``sys.modules`` when it
    ends (by default they are its resources: removed, their heap freed, the next import
    reads the file as it is then).
    ``thread_output_limit``: how many characters of what a session's background threads and
    timers print the board keeps until :meth:`~belay.DeviceSession.output` reads them (the
    last ones; a gap is marked ``[... N characters dropped ...]``).
    """

    session_timeout: float = 1800.0
    max_concurrent_sessions: int = 10
    wait_for_session_slot: bool = False
    enable_metrics: bool = False
    cleanup_timeout: float = 30.0
    call_timeout: float | None = None
    sync_timeout: float = 5.0
    lease: float = 30.0
    journal_path: Path | None = None
    journal_max_bytes: int = 10 * 1024 * 1024
    dtr: bool = True
    rts: bool = True
    keep_modules: bool = False
    thread_output_limit: int = 2048

    def __post_init__(self) -> None:
        for name in ("session_timeout", "cleanup_timeout", "sync_timeout", "lease"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, not {getattr(self, name)!r}")
        if self.call_timeout is not None and self.call_timeout <= 0:
            raise ValueError(f"call_timeout must be positive or None, not {self.call_timeout!r}")
        if self.max_concurrent_sessions < 1:
            raise ValueError("max_concurrent_sessions must be at least 1")
        if self.thread_output_limit < 64:
            raise ValueError(f"thread_output_limit must be at least 64, not {self.thread_output_limit!r}")
        if self.journal_max_bytes < 1024:
            raise ValueError(f"journal_max_bytes must be at least 1024, not {self.journal_max_bytes!r}")

    def replace(self, **changes: Any) -> SessionOptions:
        """A copy with ``changes`` applied (validated again)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], base: SessionOptions | None = None) -> SessionOptions:
        """``base`` (or the defaults) with ``values`` applied; strings are converted, unknown
        names refused."""
        known = {field.name for field in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise ValueError(f"unknown session options: {', '.join(sorted(unknown))}")
        converted = {name: _convert(name, value) for name, value in values.items()}
        return dataclasses.replace(base, **converted) if base is not None else cls(**converted)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SessionOptions:
        """Options from ``BELAY_SESSION_TIMEOUT``, ``BELAY_CALL_TIMEOUT``, ... (others default)."""
        return cls.from_mapping(env_values(environ))


def env_values(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The option values ``BELAY_<NAME>`` variables of ``environ`` (default: the process's) set,
    as text by option name: the one place belay reads options from the environment."""
    env = os.environ if environ is None else environ
    names = (field.name for field in fields(SessionOptions))
    return {name: env[ENV_PREFIX + name.upper()] for name in names if ENV_PREFIX + name.upper() in env}


def _convert(name: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    text = value.strip()
    if name in ("enable_metrics", "wait_for_session_slot", "dtr", "rts", "keep_modules"):
        if text.lower() not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
            raise ValueError(f"{name}: expected a boolean, got {value!r}")
        return text.lower() in ("1", "true", "yes", "on")
    if name in ("max_concurrent_sessions", "journal_max_bytes", "thread_output_limit"):
        return int(text)
    if name == "journal_path":
        return Path(text) if text else None
    if name == "call_timeout" and text.lower() in ("", "none"):
        return None
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{name}: expected a number of seconds, got {value!r}") from None
