"""Concurrency: sessions side by side keep their own namespaces; concurrent calls get their own answers."""

from __future__ import annotations

import anyio
import pytest

from belay import DeviceSession, DeviceSessionManager
from belay.device import Device

pytestmark = pytest.mark.anyio


async def test_two_sessions_each_see_their_own_names(
    belay_session: DeviceSession, belay_manager: DeviceSessionManager, belay_port: str
) -> None:
    async with belay_manager.session(belay_port) as other:
        await belay_session.exec("name = 'first'")
        await other.exec("name = 'second'")
        assert (await belay_session.eval("name"), await other.eval("name")) == ("first", "second")


async def test_concurrent_sessions_get_the_right_answers(
    belay_manager: DeviceSessionManager, belay_port: str, observer: Device
) -> None:
    count = 8 if observer.capabilities.mem_free > 64_000 else 2  # two in the micro:bit's ~9 KB heap
    results: dict[int, list[int]] = {}

    async def worker(n: int) -> None:
        async with belay_manager.session(belay_port) as session:

            @session.task
            def scale(x, k):  # type: ignore[no-untyped-def]
                return x * k

            results[n] = [await scale(i, n) for i in range(3)]

    with anyio.fail_after(60):
        async with anyio.create_task_group() as group:
            for n in range(count):
                group.start_soon(worker, n)
    assert results == {n: [0, n, 2 * n] for n in range(count)}


async def test_concurrent_calls_in_one_session(belay_session: DeviceSession) -> None:
    @belay_session.task
    def echo(x):  # type: ignore[no-untyped-def]
        return x

    answers: dict[int, object] = {}

    async def call(n: int) -> None:
        answers[n] = await echo(n)

    async with anyio.create_task_group() as group:
        for n in range(10):
            group.start_soon(call, n)
    assert answers == {n: n for n in range(10)}
