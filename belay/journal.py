"""The session journal: one JSON line per session event, appended to a file the user chose.

It answers "what happened to my board?" after the fact: which sessions began and ended, which
the board reaped because their host went silent, which were lost with their board, and what
could not be cleaned up. A journal never raises into the work it records: a write that fails is
logged and dropped.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any, Protocol

import platformdirs

logger = logging.getLogger(__name__)


class Journal(Protocol):
    """Where session events go: ``journal.record("reaped", port=..., session_id=...)``."""

    def record(self, event: str, **fields: Any) -> None: ...


class NullJournal:
    """Records nothing (the default when ``journal_path`` is not set)."""

    def record(self, event: str, **fields: Any) -> None:
        return None


class FileJournal:
    """Appends events as JSON lines (``time``, ``pid``, ``event`` and the event's fields) to ``path``.

    The file is created readable by its owner only; each event is one ``write`` of one line.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def record(self, event: str, **fields: Any) -> None:
        line = json.dumps({"time": time.time(), "pid": os.getpid(), "event": event, **fields}, default=str)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, (line + "\n").encode("utf-8"))
            finally:
                os.close(fd)
        except OSError as error:
            logger.warning("could not write to the journal %s: %s", self.path, error)

    def events(self) -> list[dict[str, Any]]:
        """Every event recorded so far (lines that are not JSON objects are skipped)."""
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
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


def default_journal_path() -> Path:
    """The journal the CLI uses when none is named: in the user's state directory."""
    return platformdirs.user_state_path("belay") / "journal.jsonl"


def open_journal(path: str | os.PathLike[str] | None) -> Journal:
    """A :class:`FileJournal` at ``path``, or a :class:`NullJournal` when ``path`` is ``None``."""
    return NullJournal() if path is None else FileJournal(path)


__all__ = ["FileJournal", "Journal", "NullJournal", "default_journal_path", "open_journal"]
