"""The ``manager`` fixture: a session manager on each virtual board in turn, through the async
API and through the blocking API (``api``; see tests/blocking_adapter.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from blocking_adapter import BlockingManager
from session_helpers import BOARDS

from belay import DeviceSessionManager, SessionOptions


@pytest.fixture
def api() -> str:
    """Which API a test's sessions are used through: ``await session.exec(...)``, or the
    blocking ``session.exec(...)`` behind an awaitable view (tests/blocking_adapter.py).
    ``"async"``, unless the module runs through both (below)."""
    return "async"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A module that sets ``BOTH_APIS = True`` runs each of its session tests through the async
    API and through the blocking one (a test marked ``async_only`` through the async one)."""
    if "api" not in metafunc.fixturenames or not getattr(metafunc.module, "BOTH_APIS", False):
        return
    chosen = any("api" in str(mark.args[0]) for mark in metafunc.definition.iter_markers("parametrize"))
    if not chosen:
        metafunc.parametrize("api", ["async", "blocking"])


@pytest.fixture(params=BOARDS)
async def manager(request: pytest.FixtureRequest, api: str) -> AsyncIterator[Any]:
    async with DeviceSessionManager(SessionOptions(max_concurrent_sessions=25)) as opened:
        opened.test_port = request.param  # type: ignore[attr-defined]
        yield opened if api == "async" else BlockingManager(opened)
