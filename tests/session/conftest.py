"""The ``manager`` fixture: a session manager on each virtual board in turn."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from session_helpers import BOARDS

from belay import DeviceSessionManager, SessionOptions


@pytest.fixture(params=BOARDS)
async def manager(request: pytest.FixtureRequest) -> AsyncIterator[DeviceSessionManager]:
    async with DeviceSessionManager(SessionOptions(max_concurrent_sessions=25)) as opened:
        opened.test_port = request.param  # type: ignore[attr-defined]
        yield opened
