"""Plain records the session layer reports."""

from __future__ import annotations

from dataclasses import dataclass, field


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
