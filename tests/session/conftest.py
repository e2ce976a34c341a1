"""The ``manager`` fixture: a session manager on each virtual board in turn, through the async
API and through the blocking API (``api``; see tests/blocking_adapter.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from blocking_adapter import BlockingManager
from session_helpers import BOARDS

from belay import DeviceSessionManager, SessionOptions


@pytest.fixture(params=["async", "blocking"])
def api(request: pytest.FixtureRequest) -> str:
    """Which API a test's sessions are used through: ``await session.exec(...)``, or the
    blocking ``session.exec(...)`` behind an awaitable view (tests/blocking_adapter.py)."""
    return str(request.param)


@pytest.fixture(params=BOARDS)
async def manager(request: pytest.FixtureRequest, api: str) -> AsyncIterator[Any]:
    async with DeviceSessionManager(SessionOptions(max_concurrent_sessions=25)) as opened:
        opened.test_port = request.param  # type: ignore[attr-defined]
        yield opened if api == "async" else BlockingManager(opened)
