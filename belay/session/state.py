"""Lifecycles as pure functions: ``next_state(state, event)`` and its manager twin.

Every transition not listed is refused with :class:`~belay.errors.SessionError`.
"""

from __future__ import annotations

import enum

from belay.errors import SessionError


class SessionState(enum.Enum):
    CREATED = "created"
    ACTIVE = "active"
    CLOSING = "closing"
    CLOSED = "closed"
    LOST = "lost"


class SessionEvent(enum.Enum):
    BEGIN = "begin"  # the agent accepted the session
    CLOSE = "close"  # cleanup starts
    CLOSED = "closed"  # cleanup done
    LOSE = "lose"  # the board went away


class ManagerState(enum.Enum):
    INACTIVE = "inactive"
    ACTIVE = "active"
    SHUTDOWN = "shutdown"
    DISPOSED = "disposed"


class ManagerEvent(enum.Enum):
    START = "start"
    SHUTDOWN = "shutdown"
    DISPOSE = "dispose"


_SESSION: dict[tuple[SessionState, SessionEvent], SessionState] = {
    (SessionState.CREATED, SessionEvent.BEGIN): SessionState.ACTIVE,
    (SessionState.CREATED, SessionEvent.CLOSED): SessionState.CLOSED,  # begin failed
    (SessionState.CREATED, SessionEvent.LOSE): SessionState.LOST,
    (SessionState.ACTIVE, SessionEvent.CLOSE): SessionState.CLOSING,
    (SessionState.ACTIVE, SessionEvent.LOSE): SessionState.LOST,
    (SessionState.CLOSING, SessionEvent.CLOSED): SessionState.CLOSED,
    (SessionState.CLOSING, SessionEvent.LOSE): SessionState.LOST,
}

_MANAGER: dict[tuple[ManagerState, ManagerEvent], ManagerState] = {
    (ManagerState.INACTIVE, ManagerEvent.START): ManagerState.ACTIVE,
    (ManagerState.INACTIVE, ManagerEvent.DISPOSE): ManagerState.DISPOSED,
    (ManagerState.ACTIVE, ManagerEvent.SHUTDOWN): ManagerState.SHUTDOWN,
    (ManagerState.SHUTDOWN, ManagerEvent.DISPOSE): ManagerState.DISPOSED,
}


def next_state(state: SessionState, event: SessionEvent) -> SessionState:
    """The session state after ``event``; raises :class:`SessionError` if it cannot happen."""
    try:
        return _SESSION[(state, event)]
    except KeyError:
        raise SessionError(f"a session cannot {event.value} while {state.value}") from None


def next_manager_state(state: ManagerState, event: ManagerEvent) -> ManagerState:
    """The manager state after ``event``; raises :class:`SessionError` if it cannot happen."""
    try:
        return _MANAGER[(state, event)]
    except KeyError:
        raise SessionError(f"a session manager cannot {event.value} while {state.value}") from None
