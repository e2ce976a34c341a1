"""Cleanup: a session's namespace, deployed functions and memory are gone when it ends, however it ends."""

from __future__ import annotations

import anyio
import pytest

from belay import DeviceSessionManager, DeviceTimeoutError, SessionState
from belay.agent import calls
from belay.device import Device

pytestmark = pytest.mark.anyio


async def agent_sessions(observer: Device) -> list[str]:
    return list(await observer.eval_code(calls.live_session_ids()))


async def test_nothing_of_a_session_is_left_after_it(
    belay_manager: DeviceSessionManager, belay_port: str, observer: Device
) -> None:
    async with belay_manager.session(belay_port) as session:
        await session.exec("table = [bytearray(32) for _ in range(16)]")

        @session.task
        def size():  # type: ignore[no-untyped-def]
            return len(table)  # type: ignore[name-defined]  # noqa: F821 - the session's global

        assert await size() == 16
        assert session.session_id in await agent_sessions(observer)
    assert session.state is SessionState.CLOSED
    assert session.session_id not in await agent_sessions(observer)
    assert "table" not in await observer.eval("list(globals())")


async def test_cleanup_runs_when_the_block_raises(
    belay_manager: DeviceSessionManager, belay_port: str, observer: Device
) -> None:
    with pytest.raises(KeyError):
        async with belay_manager.session(belay_port) as session:
            await session.exec("data = bytearray(256)")
            raise KeyError("the test's own failure")
    assert session.session_id not in await agent_sessions(observer)


async def test_a_call_past_its_deadline_is_interrupted_and_the_board_stays_usable(
    belay_manager: DeviceSessionManager, belay_port: str, observer: Device
) -> None:
    async with belay_manager.session(belay_port, call_timeout=0.5) as session:
        with pytest.raises(DeviceTimeoutError):
            await session.exec("while True: pass")
        assert await session.eval("6 * 7") == 42
    assert session.session_id not in await agent_sessions(observer)


async def test_a_cancelled_session_is_cleaned_up(
    belay_manager: DeviceSessionManager, belay_port: str, observer: Device
) -> None:
    with anyio.move_on_after(0.5):
        async with belay_manager.session(belay_port) as session:
            await session.exec("while True: pass")
    assert session.session_id not in await agent_sessions(observer)
    assert await observer.eval("1 + 1") == 2
