"""What the host knows about one board's files, shared by the sessions on it."""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass, field
from typing import Any, Protocol

import anyio

from belay.errors import DeviceValueError


class TempOwner(Protocol):
    """The ``fs`` of a session that owns temporary files."""

    session_id: str

    def forget_temp(self, path: str) -> None: ...


@dataclass(frozen=True, slots=True)
class Features:
    """What a board offers for moving files (asked once per agent install)."""

    writer: int
    """1: ``sys.stdout.buffer``; 2: ``microbit.uart``; 0: neither (``repr`` literals down)."""
    deflate: bool
    rename: bool
    stat: bool

    @classmethod
    def parse(cls, answer: Any) -> Features:
        if not (isinstance(answer, tuple) and len(answer) == 4 and all(isinstance(v, int) for v in answer)):
            raise DeviceValueError(f"the board's file features answer was {answer!r:.200}")
        writer, deflate, rename, stat = answer
        return cls(int(writer), bool(deflate), bool(rename), bool(stat))


@dataclass
class FileCache:
    """Hashes of what ``put()`` wrote, what the board offers for transfers, and whose
    temporary files are whose (listings are not kept: the board is asked every time).

    ``root`` is the board's filesystem root as the agent found it (``""`` on boards without
    directories): board paths are sent relative to it, so no session's ``os.chdir`` moves them.
    """

    root: str = ""
    hashes: dict[str, tuple[str, int]] = field(default_factory=dict)
    """path -> (sha256, size) of what ``put()`` last wrote there."""
    features: Features | None = None
    """What the board offers for moving files (asked at the first transfer)."""
    temps: dict[str, TempOwner] = field(default_factory=dict)
    """Temporary files -> the session files object whose session's end removes them."""
    lock: anyio.Lock = field(default_factory=anyio.Lock)
    """One file operation at a time per board: chunked writes of two sessions never interleave."""

    def on_board(self, path: str) -> str:
        """``path`` (checked, relative to the root) as the board should be sent it."""
        if not self.root or path.startswith("/"):
            return path
        return f"{self.root.rstrip('/')}/{path}" if path else self.root

    def changed(self, path: str) -> None:
        self.hashes.pop(path, None)

    def prune_temps(self, live_sessions: Container[str]) -> None:
        """Forget temporary files whose session ended (the agent removed them)."""
        gone = [path for path, owner in self.temps.items() if owner.session_id not in live_sessions]
        for path in gone:
            del self.temps[path]

    def release(self, path: str) -> None:
        """``path`` is no session's temporary file any more."""
        owner = self.temps.pop(path, None)
        if owner is not None:
            owner.forget_temp(path)
