"""Soak: many cached task calls and many sessions on one board, with the board's free heap
sampled and the host's memory traced: neither may grow beyond a small bound.

The unix board takes the full 10,000 calls and 500 sessions; the micro:bit an honest smaller
run (500 calls, 50 sessions) that fits the time budget of the suite.
"""

from __future__ import annotations

import gc
import logging
import tracemalloc
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager

import anyio
import pytest

from belay import DeviceSessionManager, SessionOptions
from belay.device import Device

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
logger = logging.getLogger(__name__)

CALLS = {"unix": 10_000, "microbit": 500}
SESSIONS = {"unix": 500, "microbit": 50}
SAMPLES = 10
BOARD_HEAP_BOUND = {"unix": 8192, "microbit": 512}
"""Bytes of free heap the board may lose over the whole run (allocator noise, not a leak)."""
HOST_MEMORY_BOUND = 512 * 1024
"""Bytes the host may hold more at the end than after warming up (a leak of 50 B a call shows)."""


async def free_heap(device: Device) -> int:
    return int(await device.eval("[__import__('gc').collect(), __import__('gc').mem_free()][1]"))


async def _sampled(
    count: int, step: Callable[[int], Awaitable[None]], device: Device
) -> tuple[list[int], list[int]]:
    """Run ``step(i)`` ``count`` times; sample board heap and host memory ``SAMPLES`` times."""
    heap, host = [], []
    for i in range(count):
        if i % (count // SAMPLES) == 0:
            gc.collect()
            heap.append(await free_heap(device))
            host.append(tracemalloc.get_traced_memory()[0])
        await step(i)
    gc.collect()
    heap.append(await free_heap(device))
    host.append(tracemalloc.get_traced_memory()[0])
    return heap, host


def _check(what: str, board: str, heap: list[int], host: list[int]) -> None:
    logger.info("%s on %s: board free heap first %d last %d min %d; host traced first %d last %d max %d",
                what, board, heap[0], heap[-1], min(heap), host[0], host[-1], max(host))  # fmt: skip
    assert heap[-1] >= heap[0] - BOARD_HEAP_BOUND[board], f"board heap shrank: {heap}"
    assert host[-1] - host[0] < HOST_MEMORY_BOUND, f"host memory grew: {host}"


@pytest.fixture
async def manager() -> AsyncIterator[DeviceSessionManager]:
    async with DeviceSessionManager(SessionOptions(max_concurrent_sessions=4)) as opened:
        yield opened
        assert opened.list_sessions() == []


@contextmanager
def traced() -> Iterator[None]:
    tracemalloc.start()
    try:
        yield
    finally:
        tracemalloc.stop()


async def test_cached_task_calls_do_not_grow_memory_on_either_side(
    manager: DeviceSessionManager, board: str
) -> None:
    async with manager.session(board) as session:

        @session.task
        def mix(a, b):  # type: ignore[no-untyped-def]
            return [a + b, str(a), {"b": b}]

        async def call(i: int) -> None:
            assert await mix(i, 1) == [i + 1, str(i), {"b": 1}]

        for i in range(50):  # warm up: caches, first-use allocations
            await call(i)
        with traced(), anyio.fail_after(CALLS[board] * 0.05 + 120):
            _check("task calls", board, *await _sampled(CALLS[board], call, observer(manager, board)))


async def test_opening_and_closing_sessions_does_not_grow_memory_on_either_side(
    manager: DeviceSessionManager, board: str
) -> None:
    async def one_session(i: int) -> None:
        async with manager.session(board) as short:  # the same code each time: MicroPython
            await short.exec("x = 21")  # interns short string constants for good
            assert await short.eval("x * 2") == 42

    async with manager.session(board):  # the board and its agent are loaded
        for i in range(5):
            await one_session(i)
    with traced(), anyio.fail_after(SESSIONS[board] * 0.5 + 120):
        _check("sessions", board, *await _sampled(SESSIONS[board], one_session, observer(manager, board)))


def observer(manager: DeviceSessionManager, port: str) -> Device:
    board = manager.board(port)
    assert board is not None
    return board.device
