"""Calls cancelled at random points, a thousand times on one session: no hang, no leaked
resource (host file descriptors and tasks, the device lock, board heap), and every call that
was not cancelled got its own right answer. If a cancel ever costs the session, its
successor must work (counted, and reported by the test)."""

from __future__ import annotations

import asyncio
import collections
import gc
import logging
import os
import random
import statistics

import anyio
import anyio.lowlevel
import pytest

from belay import BelayError, DeviceSession, DeviceSessionManager, SessionError, SessionOptions
from belay.device import Device

pytestmark = pytest.mark.anyio
logger = logging.getLogger(__name__)

ROUNDS = {"unix": 1000, "microbit": 300}
HEAP_SLACK = {"unix": 4096, "microbit": 256}


async def free_heap(device: Device) -> int:
    return int(await device.eval("[__import__('gc').collect(), __import__('gc').mem_free()][1]"))


class CallClock:
    """How long an uncancelled call lasts now, in seconds and in loop turns: the median of the
    last calls, so that where a cancel is aimed follows the machine's load as the test runs."""

    def __init__(self, window: int = 20) -> None:
        self.times: collections.deque[float] = collections.deque(maxlen=window)
        self.turns: collections.deque[int] = collections.deque(maxlen=window)

    def record(self, seconds: float, turns: int) -> None:
        self.times.append(seconds)
        self.turns.append(turns)

    @property
    def typical(self) -> tuple[float, int]:
        return statistics.median(self.times), int(statistics.median(self.turns))


async def _count_turns(counter: list[int]) -> None:
    while True:
        await anyio.lowlevel.checkpoint()
        counter[0] += 1


async def _cancel_after(scope: anyio.CancelScope, turns: int, delay: float) -> None:
    """Cancel ``scope`` after ``turns`` loop turns (sub-millisecond calls) or ``delay`` s."""
    for _ in range(turns):
        await anyio.lowlevel.checkpoint()
    if delay:
        await anyio.sleep(delay)
    scope.cancel()


async def _timed_call(call: object, args: tuple[int, int], clock: CallClock) -> None:
    """Make one uncancelled call, recording its length on ``clock``."""
    counter = [0]
    async with anyio.create_task_group() as group:
        group.start_soon(_count_turns, counter)
        start = anyio.current_time()
        assert await call(*args) == sum(args)  # type: ignore[operator]
        clock.record(anyio.current_time() - start, counter[0])
        group.cancel_scope.cancel()


async def _maybe_cancelled(call: object, args: tuple[int, int], turns: int, delay: float) -> bool:
    """Make the call with a cancel on its way; whether the cancel landed."""
    with anyio.CancelScope() as scope:
        async with anyio.create_task_group() as group:
            group.start_soon(_cancel_after, scope, turns, delay)
            assert await call(*args) == sum(args)  # type: ignore[operator]
            group.cancel_scope.cancel()
    return scope.cancelled_caught


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


async def _new_session(manager: DeviceSessionManager, port: str) -> tuple[DeviceSession, object]:
    session = await manager.create_session(port)

    @session.task
    def add(a, b):  # type: ignore[no-untyped-def]
        for i in range(b - 1):  # b > 1: output crosses the wire while the cancel may land
            print("line", i, "of a chatty call")  # noqa: T201 - runs on the board
        return a + b

    return session, add


@pytest.mark.slow
async def test_a_thousand_randomly_cancelled_calls_leave_everything_as_it_was(board: str) -> None:
    rounds, noise = ROUNDS[board], random.Random(5)
    async with DeviceSessionManager(SessionOptions(cleanup_timeout=10)) as manager:
        session, add = await _new_session(manager, board)
        device = manager.board(board).device  # type: ignore[union-attr]
        clock = CallClock()
        for i in range(20):
            await _timed_call(add, (i, 1), clock)
        typical, turns = clock.typical
        heap, fds, tasks = await free_heap(device), _open_fds(), len(asyncio.all_tasks())
        cancelled = successors = 0
        with anyio.fail_after(rounds * (typical + 0.5) + 60):
            for i in range(rounds):
                args = (i, noise.choice([1, 1, 2, 5, 20]))
                typical, turns = clock.typical
                after = noise.randrange(max(turns, 2) + 1)
                delay = noise.uniform(0, 2 * typical) * noise.randrange(2)
                try:
                    if i % 10 == 9:  # the machine's load changes: aim by how calls go now
                        await _timed_call(add, (i, 1), clock)
                    cancelled += await _maybe_cancelled(add, args, after, delay)
                except SessionError:
                    session, add = await _new_session(manager, board)
                    successors += 1
                if i % 50 == 49:
                    assert await add(i, 1) == i + 1  # type: ignore[operator]
        logger.info("%s: %d calls, %d cancelled, %d successor sessions, typical call %.2f ms (%d turns)",
                    board, rounds, cancelled, successors, typical * 1000, turns)  # fmt: skip
        assert rounds * 0.05 < cancelled < rounds * 0.95  # the cancels did land inside calls
        assert not device._lock.locked() and device._link.ready and not device.is_lost
        assert await add(1, 1) == 2  # type: ignore[operator]
        gc.collect()
        assert _open_fds() == fds
        assert len(asyncio.all_tasks()) == tasks
        assert await free_heap(device) >= heap - HEAP_SLACK[board]
        await manager.end_session(session.session_id)
        assert manager.list_sessions() == []


async def test_cancelling_while_the_lock_is_queued_or_mid_recovery_leaves_the_lock_free(board: str) -> None:
    async with await Device.open(board) as device:
        with anyio.fail_after(60):
            for delay in (0.0, 0.001, 0.01, 0.05):
                async with anyio.create_task_group() as group:
                    for n in range(6):
                        group.start_soon(_cancelled_eval, device, n, delay)
                assert not device._lock.locked()
                assert await device.eval("'ok'") == "ok"


async def _cancelled_eval(device: Device, n: int, delay: float) -> None:
    with anyio.move_on_after(delay * n):
        try:
            assert await device.eval(f"{n} * 3") == n * 3
        except BelayError:
            raise
