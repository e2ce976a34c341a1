"""A session whose beginning is cancelled leaves nothing on the board, wherever the cancel lands:
before the begin is sent, while the board runs it, or after it answered but before the host
heard (before: the board kept that session until its lease ran out, 30 s, and on a board without
threads until another session began after that)."""

from __future__ import annotations

import anyio
import pytest
from session_helpers import live_session_ids, port_of

from belay import DeviceSessionManager, SessionOptions

pytestmark = pytest.mark.anyio


async def _begin_time(manager: DeviceSessionManager, port: str) -> float:
    start = anyio.current_time()
    session = await manager.create_session(port)
    took = anyio.current_time() - start
    await manager.end_session(session.session_id)
    return took


async def _cancelled_begins_leave_nothing(manager: DeviceSessionManager, port: str) -> int:
    """Cancel ``create_session`` at 16 points across a begin's length; how many began anyway."""
    board = manager.board(port)
    assert board is not None
    device = board.device
    took = max(await _begin_time(manager, port), 0.001)
    began = 0
    for step in range(16):
        with anyio.move_on_after(took * step / 12) as scope:
            session = await manager.create_session(port)
        if not scope.cancelled_caught:  # too late to cancel: it began, and is ended as usual
            began += 1
            await manager.end_session(session.session_id)
        assert await live_session_ids(device) == [], f"a cancel {took * step / 12:.4f} s in left a session"
        assert manager.list_sessions() == []
    return began


async def test_a_cancelled_begin_leaves_no_session_on_the_board(manager: DeviceSessionManager) -> None:
    port = port_of(manager)
    await manager.create_session(port)  # the agent is loaded: the cancels land in begin itself
    for session in manager.list_sessions():
        await manager.end_session(session.session_id)
    assert await _cancelled_begins_leave_nothing(manager, port) < 16


async def test_a_cancelled_begin_on_the_slow_line_leaves_no_session() -> None:
    async with DeviceSessionManager(SessionOptions()) as manager:
        port = "unix?baud=115200"
        await manager.end_session((await manager.create_session(port)).session_id)
        assert await _cancelled_begins_leave_nothing(manager, port) < 16
