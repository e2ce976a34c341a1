"""Fixtures of the fault tests: a session manager per board, API (async or blocking) and module,
and a bystander.

The bystander is a session that holds a variable and a deployed task while a test throws bad
input at the board through other sessions; ``await bystander.check()`` proves nothing of it
was touched and the board still answers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import anyio
import pytest
from blocking_adapter import BlockingManager

from belay import DeviceSession, DeviceSessionManager, SessionOptions
from belay.device import Device
from belay.session.functions.tasks import Task


@pytest.fixture(scope="module", params=["async", "blocking"])
def api(request: pytest.FixtureRequest) -> str:
    """Which API the sessions of a test are used through (see tests/blocking_adapter.py)."""
    return str(request.param)


@pytest.fixture(scope="module")
async def manager(board: str, api: str) -> AsyncIterator[Any]:
    """One manager per board, API and module (a micro:bit costs ~1.5 s to open); with the
    blocking API, its sessions are blocking sessions behind awaitable views."""
    options = SessionOptions(max_concurrent_sessions=8, sync_timeout=3.0, cleanup_timeout=10.0)
    async with DeviceSessionManager(options) as opened:
        yield opened if api == "async" else BlockingManager(opened)


def observer(manager: DeviceSessionManager, port: str) -> Device:
    """The board's device, outside every session."""
    board = manager.board(port)
    assert board is not None, f"no board open on {port}"
    return board.device


@dataclass
class Bystander:
    session: DeviceSession
    double: Task

    async def check(self) -> None:
        with anyio.fail_after(30):
            assert self.session.is_active
            assert await self.session.eval("kept") == [1, 2, 3]
            assert await self.double(21) == 42


@pytest.fixture
async def bystander(manager: DeviceSessionManager, board: str) -> AsyncIterator[Bystander]:
    async with manager.session(board) as session:
        await session.exec("kept = [1, 2, 3]")

        @session.task
        def double(x):  # type: ignore[no-untyped-def]
            return 2 * x

        assert await double(4) == 8
        yield Bystander(session, double)
