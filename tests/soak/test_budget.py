"""The smallest board's heap budget (issue 10): the agent and each open session fit the
micro:bit's few kilobytes as promised. Bytes, not time: ``gc.mem_free()`` after ``gc.collect()``
on one board, so the figures are the same on a loaded machine."""

from __future__ import annotations

import pytest

from belay import DeviceSessionManager, SessionOptions
from belay.agent import calls
from belay.device import Device

pytestmark = [pytest.mark.anyio, pytest.mark.microbit]

FREE = "import gc\ngc.collect()\ngc.collect()\nprint(gc.mem_free())\ndel gc"
AGENT_RESIDENT_BUDGET = 2560  # bytes: "the agent at most 2.5 KB resident"
SESSION_BUDGET = 160  # bytes of board heap an open session may hold


async def free(device: Device) -> int:
    return int(await device.eval_code(FREE))


async def test_the_agent_and_each_open_session_fit_the_microbits_budget() -> None:
    async with DeviceSessionManager(SessionOptions(max_concurrent_sessions=8)) as manager:
        async with manager.session("microbit", on_output=None):
            pass  # the agent is installed on the board's flash
        board = manager.board("microbit")
        assert board is not None
        device = board.device
        await device.soft_reset()
        bare = await free(device)
        await device.exec(calls.import_agent())
        resident = bare - await free(device)
        assert 0 < resident <= AGENT_RESIDENT_BUDGET, resident

        start = await free(device)
        sessions = [await manager.create_session("microbit", on_output=None) for _ in range(4)]
        per_session = (start - await free(device)) / len(sessions)
        for session in sessions:
            await manager.end_session(session.session_id)
        assert 0 < per_session <= SESSION_BUDGET, per_session
        assert await free(device) >= start - 64  # and ended, they give it back
