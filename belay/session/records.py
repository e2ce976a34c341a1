"""Plain records the session layer reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from belay.errors import ProtocolError


@dataclass(frozen=True, slots=True)
class SessionStats:
    """Sessions of a manager: open now, opened in all, most open at once."""

    active: int
    total: int
    max_active: int


@dataclass(frozen=True, slots=True)
class ResourceUsageStats:
    """What one session holds, as its tracker sees it."""

    total: int
    total_cost: float
    by_type: dict[str, int] = field(default_factory=dict)
    background_threads: int = 0
    deployed_methods: int = 0
    timers: int = 0


@dataclass(frozen=True, slots=True)
class ReapedSession:
    """A session ended without its host: its lease ran out (``reason="lease"``: the host went
    silent), or its board was lost and came back without a reboot (``reason="lost"``)."""

    session_id: str
    idle_ms: int
    problems: tuple[str, ...] = ()
    reason: str = "lease"


def reaped_sessions(value: Any, reason: str = "lease") -> list[ReapedSession]:
    """The agent's ``reaped`` list, checked item by item (it comes from the board)."""
    if not isinstance(value, list):
        raise ProtocolError(f"the agent's list of reaped sessions is a {type(value).__name__}")
    found = []
    for item in value:
        try:
            session_id, idle_ms, problems = item
            problems = tuple(str(problem) for problem in problems)
            found.append(ReapedSession(str(session_id), int(idle_ms), problems, reason))
        except (TypeError, ValueError, OverflowError) as error:  # int(inf) is an OverflowError
            raise ProtocolError(f"the agent reported a reaped session as {item!r:.200}") from error
    return found
