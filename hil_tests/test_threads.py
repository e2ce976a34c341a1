"""Background threads: they run, their prints are kept for ``output()``, they stop with the session."""

from __future__ import annotations

import anyio
import pytest

from belay import DeviceSession, DeviceSessionManager
from belay.device import Device

pytestmark = [pytest.mark.anyio, pytest.mark.belay_requires("threads")]


async def wait_until_finished(session: DeviceSession, name: str) -> list[object]:
    with anyio.fail_after(5):
        while (record := (await session.board_stats())["threads"][name])[0] == "running":  # noqa: ASYNC110
            await anyio.sleep(0.02)
    return list(record)


async def test_a_thread_runs_beside_the_session(belay_session: DeviceSession) -> None:
    await belay_session.exec("ticks = 0")

    @belay_session.thread
    def count(period_ms):  # type: ignore[no-untyped-def]
        import time

        import belay_agent

        global ticks
        while belay_agent.running():
            ticks += 1
            time.sleep_ms(period_ms)

    name = await count(5)
    assert name == "count-1"
    first = await belay_session.eval("ticks")
    await anyio.sleep(0.1)
    assert await belay_session.eval("ticks") > first
    assert belay_session.resources.active_threads() == ["count-1"]


async def test_what_a_thread_prints_is_kept_for_output(belay_session: DeviceSession) -> None:
    @belay_session.thread
    def chatty(n):  # type: ignore[no-untyped-def]
        for i in range(n):
            print("line", i)  # noqa: T201 - runs on the board

    name = await chatty(3)
    assert await wait_until_finished(belay_session, name) == ["finished", None]
    assert await belay_session.output() == "line 0\nline 1\nline 2\n"
    assert await belay_session.output() == ""  # read once


async def test_a_crashing_thread_is_reported(belay_session: DeviceSession) -> None:
    @belay_session.thread
    def fragile():  # type: ignore[no-untyped-def]
        raise ValueError("boom")

    name = await fragile()
    assert await wait_until_finished(belay_session, name) == ["crashed", "ValueError: boom"]
    assert f"thread {name} crashed: ValueError: boom" in await belay_session.output()


async def test_threads_stop_when_their_session_ends(
    belay_manager: DeviceSessionManager, belay_port: str, observer: Device
) -> None:
    await observer.exec("belay_hil_ticks = [0]")
    try:
        async with belay_manager.session(belay_port) as session:

            @session.thread
            def spin():  # type: ignore[no-untyped-def]
                import time

                import belay_agent

                import __main__

                while belay_agent.running():
                    __main__.belay_hil_ticks[0] += 1
                    time.sleep_ms(5)

            await spin()
            await spin()
            await anyio.sleep(0.1)
        stopped = await observer.eval("belay_hil_ticks[0]")
        assert stopped > 0
        await anyio.sleep(0.1)
        assert await observer.eval("belay_hil_ticks[0]") == stopped
    finally:
        await observer.exec("del belay_hil_ticks")


async def test_many_threads_at_once(belay_session: DeviceSession) -> None:
    @belay_session.thread
    def square_into(slot, x):  # type: ignore[no-untyped-def]
        results[slot] = x * x  # type: ignore[name-defined]  # noqa: F821 - the session's global

    await belay_session.exec("results = [None] * 8")
    names = [await square_into(i, i) for i in range(8)]
    for name in names:
        await wait_until_finished(belay_session, name)
    assert await belay_session.eval("results") == [i * i for i in range(8)]
