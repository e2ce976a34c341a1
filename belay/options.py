"""Session options: one frozen record, from code, from ``BELAY_*`` variables, or from a mapping."""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

ENV_PREFIX = "BELAY_"
"""What the environment variables belay reads start with."""

_SECONDS = (
    "session_timeout",
    "cleanup_timeout",
    "bookkeeping_timeout",
    "call_timeout",
    "sync_timeout",
    "lease",
)
_FLAGS = ("enable_metrics", "wait_for_session_slot", "dtr", "rts", "lab_share", "keep_modules")
_ENV_NAMES = {"lab_coordinator": "LG_COORDINATOR"}
"""Options read from a variable other than ``BELAY_<NAME>``: labgrid's own, where it has one."""


class OptionError(ValueError):
    """An option value that cannot be used; ``name`` is the option's (``lease``)."""

    def __init__(self, name: str, problem: str) -> None:
        super().__init__(f"{name} {problem}")
        self.name = name


def _check_seconds(name: str, value: Any, *, none_allowed: bool) -> None:
    if value is None and none_allowed:
        return
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if not number or not math.isfinite(value) or value <= 0:
        also = " (or none)" if none_allowed else ""
        raise OptionError(name, f"must be a finite number of seconds above 0{also}, not {value!r}")


def _check_int(name: str, value: Any, least: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < least:
        raise OptionError(name, f"must be a whole number of at least {least}, not {value!r}")


def _check_lab(coordinator: Any, wait: Any) -> None:
    if coordinator is not None and (not isinstance(coordinator, str) or not coordinator.strip()
                                    or any(part.isspace() for part in coordinator)):  # fmt: skip
        raise OptionError(
            "lab_coordinator", f"must be a coordinator's host:port (or none), not {coordinator!r}"
        )
    number = isinstance(wait, int | float) and not isinstance(wait, bool)
    if not number or not math.isfinite(wait) or wait < 0:
        raise OptionError("lab_wait", f"must be a finite number of seconds, 0 or more, not {wait!r}")


@dataclass(frozen=True, slots=True)
class SessionOptions:
    """How sessions behave. Times are seconds as floats.

    ``session_timeout``: an idle session is ended after this long.
    ``max_concurrent_sessions``: more raise :class:`~belay.errors.SessionLimitError`
    (or wait, with ``wait_for_session_slot``).
    ``cleanup_timeout``: the most a session's cleanup may take.
    ``call_timeout``: default deadline of one call of your code (``exec``, ``eval``, a task;
    ``None``, the default: your code runs as long as it likes).
    ``bookkeeping_timeout``: the deadline of each call belay makes for its own bookkeeping
    (a session's begin, end and renewal, stats, cleanup, each file chunk, probes, the agent's
    install): a board gone silent never leaves one waiting.
    ``lease``: how long a board keeps a silent session's resources before reaping them.
    ``journal_path``: where to journal session events (``None``: no journal).
    ``journal_max_bytes``: past this size the journal is rotated (one old file is kept).
    ``dtr``, ``rts``: the levels a serial port's DTR and RTS lines are held at while open
    (``True``, asserted, as a port opens: no board is reset by opening it).
    ``lab_coordinator``: a labgrid lab's coordinator, ``host:port`` (``None``: labgrid's default).
    ``lab_wait``: how long opening a ``labgrid:`` port waits for a place another identity holds,
    or for a free place with the tags (0: refused at once).
    ``lab_share``: let this process share a place's line with another belay process of this
    host, where the place was acquired by hand (``labgrid-client acquire``) and both ask to share.
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
    bookkeeping_timeout: float = 30.0
    sync_timeout: float = 5.0
    lease: float = 30.0
    journal_path: Path | None = None
    journal_max_bytes: int = 10 * 1024 * 1024
    dtr: bool = True
    rts: bool = True
    lab_coordinator: str | None = None
    lab_wait: float = 0.0
    lab_share: bool = False
    keep_modules: bool = False
    thread_output_limit: int = 2048

    def __post_init__(self) -> None:
        """Every value checked once, here, whoever made the record (code, ``BELAY_*``, a file):
        raises :class:`OptionError` naming the option, what it must be, and the value."""
        for name in _SECONDS:
            _check_seconds(name, getattr(self, name), none_allowed=name == "call_timeout")
        _check_int("max_concurrent_sessions", self.max_concurrent_sessions, 1)
        _check_int("journal_max_bytes", self.journal_max_bytes, 1024)
        _check_int("thread_output_limit", self.thread_output_limit, 64)
        for name in _FLAGS:
            if not isinstance(getattr(self, name), bool):
                raise OptionError(name, f"must be true or false, not {getattr(self, name)!r}")
        _check_lab(self.lab_coordinator, self.lab_wait)
        journal = self.journal_path
        if journal is not None:
            if not isinstance(journal, str | os.PathLike) or not os.fspath(journal):
                raise OptionError("journal_path", f"must be a file path (text), not {journal!r}")
            object.__setattr__(self, "journal_path", Path(journal))

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


def env_name(name: str) -> str:
    """The environment variable option ``name`` is read from: ``BELAY_<NAME>``, or labgrid's own
    ``LG_COORDINATOR`` for ``lab_coordinator``."""
    return _ENV_NAMES.get(name, ENV_PREFIX + name.upper())


def env_values(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The option values the variables of ``environ`` (default: the process's) set, as text by
    option name: the one place belay reads options from the environment."""
    env = os.environ if environ is None else environ
    names = (field.name for field in fields(SessionOptions))
    return {name: env[env_name(name)] for name in names if env_name(name) in env}


def _convert(name: str, value: Any) -> Any:
    if not isinstance(value, str):
        return value
    text = value.strip()
    if name in _FLAGS:
        if text.lower() not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
            raise OptionError(name, f"must be true or false, not {value!r}")
        return text.lower() in ("1", "true", "yes", "on")
    if name in ("max_concurrent_sessions", "journal_max_bytes", "thread_output_limit"):
        try:
            return int(text)
        except ValueError:
            raise OptionError(name, f"must be a whole number, not {value!r}") from None
    if name == "journal_path":
        return Path(text) if text else None
    if name == "call_timeout" and text.lower() in ("", "none"):
        return None
    if name == "lab_coordinator":
        return text or None
    try:
        return float(text)
    except ValueError:
        raise OptionError(name, f"must be a number of seconds, not {value!r}") from None
