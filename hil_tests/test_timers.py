"""Timers: periodic calls that are tracked, cancelled on demand and removed with the session."""

from __future__ import annotations

import anyio
import pytest

from belay import DeviceSession, DeviceSessionManager
from belay.device import Device

pytestmark = [pytest.mark.anyio, pytest.mark.belay_requires("timer")]


async def test_a_timer_fires_until_cancelled(belay_session: DeviceSession) -> None:
    await belay_session.exec("fired = 0")

    @belay_session.task
    def tick(step):  # type: ignore[no-untyped-def]
        global fired
        fired += step

    timer = await belay_session.timer(tick, period_ms=10, args=(1,))
    await anyio.sleep(0.15)
    assert await belay_session.eval("fired") > 2
    assert belay_session.resources.timers() == [timer.name]
    await timer.cancel()
    await anyio.sleep(0.05)  # a tick already under way may still land
    stopped = await belay_session.eval("fired")
    await anyio.sleep(0.1)
    assert await belay_session.eval("fired") == stopped
    assert belay_session.resources.timers() == []


async def test_timers_stop_when_their_session_ends(
    belay_manager: DeviceSessionManager, belay_port: str, observer: Device
) -> None:
    await observer.exec("belay_hil_fired = [0]")
    try:
        async with belay_manager.session(belay_port) as session:

            @session.task
            def tick():  # type: ignore[no-untyped-def]
                import __main__

                __main__.belay_hil_fired[0] += 1

            await session.timer(tick, period_ms=10)
            await anyio.sleep(0.1)
        await anyio.sleep(0.05)
        stopped = await observer.eval("belay_hil_fired[0]")
        assert stopped > 0
        await anyio.sleep(0.1)
        assert await observer.eval("belay_hil_fired[0]") == stopped
    finally:
        await observer.exec("del belay_hil_fired")
