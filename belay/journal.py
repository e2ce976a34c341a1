"""The session journal, an audit trail: one JSON line per session event, appended to a file.

It answers "what ran on which board, and how did it end?" after the fact: which sessions
began and ended (with the board's identity and what each held), which the board reaped because
their host went silent, which were lost with their board, and what could not be cleaned up.
Each line has ``time`` (ISO 8601, UTC, milliseconds, ``Z``), ``pid``, ``event`` and the event's
fields. Processes may append to one journal at once: each line is written whole under a lock.
Past ``max_bytes`` the file is renamed to ``<name>.1`` (replacing the one before) and a new
one begun. A journal never raises into the work it records: a write that fails is logged and
dropped.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from datetime import datetime

logger = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 10 * 1024 * 1024


class Journal(Protocol):
    """Where session events go: ``journal.record("reaped", port=..., session_id=...)``."""

    def record(self, event: str, **fields: Any) -> None: ...


class NullJournal:
    """Records nothing (the default when ``journal_path`` is not set)."""

    def record(self, event: str, **fields: Any) -> None:
        return None


def timestamp(moment: datetime | None = None) -> str:
    """``moment`` (default: now) as ISO 8601 in UTC with milliseconds: ``2026-12-02T16:30:00.123Z``."""
    from datetime import UTC, datetime  # only where a journal is written

    moment = moment if moment is not None else datetime.now(UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class FileJournal:
    """Appends events as JSON lines to ``path`` (created readable by its owner only), keeping at
    most ``max_bytes`` in it and one rotated file, ``<path>.1``, before it."""

    def __init__(self, path: str | os.PathLike[str], max_bytes: int = DEFAULT_MAX_BYTES, *,
                 quiet: bool = False) -> None:  # fmt: skip
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.quiet = quiet
        """Whether a write that fails is logged at debug level only (the journal nobody named)."""
        self._warned = False

    @property
    def rotated_path(self) -> Path:
        return self.path.with_name(self.path.name + ".1")

    def record(self, event: str, **fields: Any) -> None:
        line = json.dumps({"time": timestamp(), "pid": os.getpid(), "event": event, **fields}, default=str)
        try:
            self._append((line + "\n").encode("utf-8"))
        except OSError as error:  # a warning the first time, then (or where quiet) debug only
            level = logging.DEBUG if self.quiet or self._warned else logging.WARNING
            self._warned = True
            logger.log(level, "could not write to the journal %s: %s", self.path, error)

    def _append(self, data: bytes) -> None:
        """Write ``data`` at the end of the current file, under an exclusive lock on it; rotate
        first when it would pass ``max_bytes``. Raises :class:`OSError`."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                if not _is_current(fd, self.path):
                    continue  # another process rotated it while this one waited: open the new one
                size = os.fstat(fd).st_size
                if size and size + len(data) > self.max_bytes:
                    os.replace(self.path, self.rotated_path)
                    continue
                os.write(fd, data)
                return
            finally:
                os.close(fd)  # closing releases the lock

    def events(self) -> list[dict[str, Any]]:
        """Every event recorded, the rotated file's first (lines that are not JSON objects are
        skipped)."""
        return [*_read_events(self.rotated_path), *_read_events(self.path)]


def _is_current(fd: int, path: Path) -> bool:
    try:
        return os.fstat(fd).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False


def _read_events(path: Path) -> list[dict[str, Any]]:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()  # a line torn mid-character
    except FileNotFoundError:
        return []
    found = []
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            found.append(event)
    return found


def board_fields(info: Any) -> dict[str, str]:
    """A board's identity as journaled: implementation, version, platform and port of ``info``
    (a :class:`~belay.board_info.DeviceInfo`)."""
    return {
        "implementation": str(info.implementation), "version": str(info.version_text),
        "platform": str(info.platform), "port": str(info.port),
    }  # fmt: skip


def read_journal(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The events of the journal at ``path`` and its rotated file, oldest first (none where
    there is no file yet). Raises :class:`OSError` for a path it cannot read (a folder)."""
    return FileJournal(path).events()


def default_journal_path() -> Path:
    """The journal the CLI uses when none is named: in the user's state directory
    (``$XDG_STATE_HOME/belay``, else ``~/.local/state/belay`` on Linux, as platformdirs says,
    without importing it on every command)."""
    if sys.platform.startswith("linux"):
        state = os.environ.get("XDG_STATE_HOME", "").strip() or os.path.expanduser("~/.local/state")
        return Path(state) / "belay" / "journal.jsonl"
    import platformdirs

    return platformdirs.user_state_path("belay") / "journal.jsonl"


def open_journal(path: str | os.PathLike[str] | None, max_bytes: int = DEFAULT_MAX_BYTES) -> Journal:
    """A :class:`FileJournal` at ``path``, or a :class:`NullJournal` when ``path`` is ``None``.
    The default journal (the CLI's, when none is configured) is best effort: quiet."""
    if path is None:
        return NullJournal()
    return FileJournal(path, max_bytes, quiet=Path(path) == default_journal_path())


__all__ = [
    "DEFAULT_MAX_BYTES",
    "FileJournal",
    "Journal",
    "NullJournal",
    "board_fields",
    "default_journal_path",
    "open_journal",
    "read_journal",
    "timestamp",
]
