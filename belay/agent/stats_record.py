"""The agent's stats answer (``device/agent_stats.py``: tuples, to be small on the board) named
as the dict ``belay stats`` and :meth:`DeviceSession.board_stats` return."""

from __future__ import annotations

from typing import Any

from belay.errors import DeviceValueError

SESSION_FIELDS = (
    "age_ms", "idle_ms", "lease_ms", "threads", "timers", "methods", "files", "output", "proxies",
    "modules",
)  # fmt: skip
"""After the session id, in the order the agent sends them."""
BOARD_FIELDS = ("version", "sessions", "reaped", "zombies", "reaper", "mem_free", "mem_alloc")


def stats_record(answer: Any, port: str) -> dict[str, Any]:
    """``answer`` as a dict keyed by :data:`BOARD_FIELDS`, ``sessions`` by session id.

    Raises :class:`DeviceValueError` if the answer has another shape.
    """
    if not (isinstance(answer, tuple) and len(answer) == len(BOARD_FIELDS) and isinstance(answer[1], list)):
        raise DeviceValueError(f"the agent on {port} sent stats in an unknown shape: {answer!r:.200}")
    record = dict(zip(BOARD_FIELDS, answer, strict=True))
    sessions = {}
    for entry in answer[1]:
        if not (isinstance(entry, tuple) and len(entry) == 1 + len(SESSION_FIELDS)):
            raise DeviceValueError(
                f"the agent on {port} sent a session record in an unknown shape: {entry!r:.200}"
            )
        sessions[entry[0]] = dict(zip(SESSION_FIELDS, entry[1:], strict=True))
    record["sessions"] = sessions
    return record


__all__ = ["BOARD_FIELDS", "SESSION_FIELDS", "stats_record"]
