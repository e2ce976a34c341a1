"""The board's heap as a budget (issue 10): what sessions send is never interned for good, and
no per-session record grows with the session's age.

A board's compiler interns every new string or bytes constant of up to ten bytes until the
next reset; distinct short evals, thread names and file paths used to leak that way (about
100 KB on the unix port for 6,000 evals and 2,500 thread starts).
"""

from __future__ import annotations

import re

import pytest

from belay import DeviceSessionManager, SessionOptions
from belay.device import Device

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

EVALS = {"unix": 6000, "microbit": 300}
THREADS = {"unix": 2500, "microbit": 0}
HEAP_BOUND = 4096
QSTRS = (
    "import gc, micropython\ngc.collect()\ngc.collect()\nmicropython.qstr_info()\n"
    "print(gc.mem_free())\ndel gc, micropython"
)


async def qstrs_and_free_heap(device: Device) -> tuple[int, int]:
    text = await device.exec(QSTRS)
    found = re.search(r"n_qstr=(\d+)", text)
    assert found is not None, text
    return int(found.group(1)), int(text.split()[-1])


async def test_distinct_short_calls_and_thread_starts_leave_the_heap_where_it_was(board: str) -> None:
    async with DeviceSessionManager(SessionOptions()) as manager:
        async with manager.session(board, on_output=None):
            pass  # the agent is loaded: what follows is the sessions' own cost
        board_state = manager.board(board)
        assert board_state is not None
        device = board_state.device
        qstrs_before, heap_before = await qstrs_and_free_heap(device)
        async with manager.session(board, on_output=None) as session:
            for k in range(EVALS[board]):
                assert await session.eval(f"{k} * 2") == 2 * k
            for k in range(EVALS[board] // 10):
                await session.exec(f"v = {k}")  # short code, as a string belay sends
            if THREADS[board]:

                @session.thread
                def work(x):  # type: ignore[no-untyped-def]
                    return x

                for i in range(THREADS[board]):
                    await work(i)
            for k in range(20):
                await session.fs.put(b"x%d" % k, f"f{k}.txt")
                assert await session.fs.get(f"f{k}.txt") == b"x%d" % k
                await session.fs.rm(f"f{k}.txt")
        qstrs_after, heap_after = await qstrs_and_free_heap(device)
        assert qstrs_after - qstrs_before <= 2  # the task's own name; nothing per call
        assert heap_before - heap_after <= HEAP_BOUND
        async with manager.session(board, on_output=None) as next_host:  # the next host works
            await next_host.exec("abc_new_name = 5")
            assert await next_host.eval("abc_new_name") == 5
