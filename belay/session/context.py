"""The narrow view of a session that its helpers (remote functions, files) work through.

:class:`~belay.session.session.DeviceSession` implements it; the helpers never import the
session module, so the layers stay a tree.
"""

from __future__ import annotations

import enum
from typing import TYPE_CHECKING, Any, Protocol

from belay.board_info import Capabilities
from belay.link import OutputCallback
from belay.options import SessionOptions
from belay.session.tracker import ResourceTracker

if TYPE_CHECKING:
    from belay.session.board import Board


class Default(enum.Enum):
    """The type of :data:`DEFAULT`."""

    TIMEOUT = 0


DEFAULT = Default.TIMEOUT
"""``timeout=DEFAULT`` (the default): the session's ``call_timeout``; ``None``: no deadline."""

Timeout = float | None | Default


class SessionContext(Protocol):
    """What a session offers the code that works for it."""

    session_id: str
    token: str
    resources: ResourceTracker
    options: SessionOptions

    @property
    def ref(self) -> str | int: ...

    @property
    def port(self) -> str: ...

    @property
    def board(self) -> Board: ...

    @property
    def capabilities(self) -> Capabilities: ...

    @property
    def is_active(self) -> bool: ...

    def next_name(self, prefix: str) -> str: ...

    def remember_origin(self, name: str, file: str, first_line: int) -> None: ...

    def release_later(self, code: str) -> None: ...

    async def run(
        self, code: str, *, timeout: Timeout = DEFAULT, on_output: OutputCallback | None = None,
        kind: str = "exec", name: str | None = None,
    ) -> str:  # fmt: skip
        """Run agent-level ``code``; ``kind`` and ``name`` label the call in telemetry."""
        ...

    async def run_value(
        self, code: str, *, timeout: Timeout = DEFAULT, kind: str = "eval", name: str | None = None
    ) -> Any:
        """Run agent-level ``code`` that answers a value; ``kind`` and ``name`` label the call."""
        ...
