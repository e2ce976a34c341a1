"""Load: ``max_concurrent_sessions`` sessions at once, each called from several tasks at
once; the limit holds (refused, or waited for) and every result is the caller's own."""

from __future__ import annotations

import anyio
import pytest

from belay import DeviceSession, DeviceSessionManager, SessionLimitError, SessionOptions

pytestmark = [pytest.mark.anyio, pytest.mark.slow]

SHAPE = {"unix": (8, 4, 20), "microbit": (2, 2, 4)}
"""Per board: sessions at once (the limit), tasks per session, calls per task. Two sessions
with deployed tasks is what the micro:bit's heap holds beside the agent, with room to spare."""


Results = dict[tuple[int, int], list[object]]


async def _work(session: DeviceSession, n: int, tasks: int, calls: int, results: Results) -> None:
    @session.task
    def scale(x, k):  # type: ignore[no-untyped-def]
        return [x * k, k]

    await session.exec(f"mine = {n}")

    async def caller(t: int) -> None:
        results[n, t] = [await scale(c, n * 100 + t) for c in range(calls)]
        results[n, t].append(await session.eval("mine"))

    async with anyio.create_task_group() as group:
        for t in range(tasks):
            group.start_soon(caller, t)


def _expected(n: int, t: int, calls: int) -> list[object]:
    k = n * 100 + t
    return [*([c * k, k] for c in range(calls)), n]


async def test_the_session_limit_holds_under_load_and_every_answer_is_right(board: str) -> None:
    limit, tasks, calls = SHAPE[board]
    results: Results = {}
    async with DeviceSessionManager(SessionOptions(max_concurrent_sessions=limit)) as manager:
        with anyio.fail_after(180):
            sessions = [await manager.create_session(board) for _ in range(limit)]
            with pytest.raises(SessionLimitError) as refused:
                await manager.create_session(board)
            assert refused.value.limit == limit
            async with anyio.create_task_group() as group:
                for n, session in enumerate(sessions):
                    group.start_soon(_work, session, n, tasks, calls, results)
            for session in sessions:
                await manager.end_session(session.session_id)
        assert results == {(n, t): _expected(n, t, calls) for n in range(limit) for t in range(tasks)}
        assert (await manager.stats()).max_active == limit


async def test_twice_the_limit_of_workers_wait_for_slots_and_all_get_their_answers(board: str) -> None:
    limit, tasks, calls = SHAPE[board]
    results: Results = {}
    options = SessionOptions(max_concurrent_sessions=limit, wait_for_session_slot=True)
    async with DeviceSessionManager(options) as manager:

        async def worker(n: int) -> None:
            async with manager.session(board) as session:
                assert len(manager.list_sessions()) <= limit
                await _work(session, n, tasks, calls, results)

        with anyio.fail_after(300):
            async with anyio.create_task_group() as group:
                for n in range(2 * limit):
                    group.start_soon(worker, n)
        assert results == {(n, t): _expected(n, t, calls) for n in range(2 * limit) for t in range(tasks)}
        stats = await manager.stats()
        assert stats.max_active == limit and stats.total == 2 * limit and stats.active == 0
