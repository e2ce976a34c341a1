"""Generator tasks (issue 12, item 1): values stream as the board produces them, and breaking
out, cancelling, a timeout or a board error leave the session going on, on both boards."""

from __future__ import annotations

import gc

import anyio
import pytest
from blocking_adapter import async_only
from session_helpers import port_of

import belay
from belay import DeviceExecError, DeviceSession, DeviceSessionManager, DeviceTimeoutError, DeviceValueError
from belay.session.functions.generators import GeneratorTask

pytestmark = pytest.mark.anyio
BOTH_APIS = True  # the session tests run through the blocking API too (tests/blocking_adapter.py)


async def generators_held(session: DeviceSession) -> int:
    """How many of the session's generators the board holds (asked of the agent's records)."""
    extras = f"__import__('belay_agent').x({session.token!r})"
    return int(await session.eval(f"len({extras}.get('g', {{}}))"))


async def test_values_arrive_one_at_a_time_as_python_makes_them(manager: DeviceSessionManager) -> None:
    async with manager.session(port_of(manager), on_output=None) as session:
        await session.exec("stage = [0]")

        @session.task
        def count_up(n):  # type: ignore[no-untyped-def]
            for k in range(n):
                stage[0] = k  # type: ignore[name-defined]  # noqa: F821 - the board's
                yield k * 10

        assert isinstance(count_up, GeneratorTask)
        seen = []
        async for value in count_up(4):
            # The board is suspended at this value's yield: it has not run ahead of the host.
            assert await session.eval("stage[0]") == len(seen)
            seen.append(value)
        assert seen == [0, 10, 20, 30]
        assert await generators_held(session) == 0  # finished: dropped on the board


async def test_a_board_error_mid_stream_ends_the_iteration_with_its_traceback(
    manager: DeviceSessionManager,
) -> None:
    async with manager.session(port_of(manager), on_output=None) as session:

        @session.task
        def breaks_after_two():  # type: ignore[no-untyped-def]
            yield 1
            yield 2
            yield 1 // 0

        seen = []
        with pytest.raises(DeviceExecError) as caught:
            async for value in breaks_after_two():
                seen.append(value)
        assert seen == [1, 2]
        assert caught.value.remote_type == "ZeroDivisionError"
        assert "yield 1 // 0" in str(caught.value)  # the board traceback points at this file's line
        assert await generators_held(session) == 0
        assert await session.eval("2 + 2") == 4


async def test_breaking_out_then_closing_or_dropping_releases_it_on_the_board(
    manager: DeviceSessionManager,
) -> None:
    async with manager.session(port_of(manager), on_output=None) as session:

        @session.task
        def forever():  # type: ignore[no-untyped-def]
            k = 0
            while True:
                yield k
                k += 1

        values = forever()
        async for value in values:
            if value == 3:
                break
        assert await generators_held(session) == 1  # suspended on the board, as in Python
        assert await values.__anext__() == 4  # ... and it goes on from where it was
        await values.aclose()
        assert await generators_held(session) == 0
        with pytest.raises(StopAsyncIteration):
            await values.__anext__()

        dropped = forever()
        assert await dropped.__anext__() == 0
        del dropped
        gc.collect()
        # The drop travels ahead of the next call of the session.
        assert await generators_held(session) == 0

        left = forever()
        assert await left.__anext__() == 0
    async with manager.session(port_of(manager), on_output=None) as after:
        assert await after.eval("1") == 1  # the ended session's generator went with it


@async_only  # cancelled by an outer scope: the blocking API's counterpart is Ctrl-C
async def test_cancelling_or_timing_out_a_step_interrupts_the_board_and_the_session_goes_on(
    manager: DeviceSessionManager,
) -> None:
    async with manager.session(port_of(manager), on_output=None) as session:

        @session.task
        def stalls():  # type: ignore[no-untyped-def]
            yield "first"
            while True:
                pass

        seen = []
        with anyio.move_on_after(1.0) as scope:
            async for value in stalls():
                seen.append(value)
        assert scope.cancelled_caught and seen == ["first"]
        assert await session.eval("'still here'") == "still here"

        values = stalls(timeout=0.5)
        assert await values.__anext__() == "first"
        with pytest.raises(DeviceTimeoutError):
            await values.__anext__()
        with pytest.raises(StopAsyncIteration):  # the interrupt ended it on the board
            await values.__anext__()
        assert await generators_held(session) == 0
        assert await session.eval("6 * 7") == 42


@async_only  # cancelled by an outer scope: the blocking API's counterpart is Ctrl-C
async def test_a_generator_streams_while_a_background_thread_runs(manager: DeviceSessionManager) -> None:
    async with manager.session(port_of(manager), on_output=None) as session:
        if not session.capabilities.threads:
            pytest.skip("the board has no _thread")
        await session.exec("beats = [0]")

        @session.thread
        def heartbeat():  # type: ignore[no-untyped-def]
            import time

            import belay_agent

            while belay_agent.running():
                beats[0] += 1  # type: ignore[name-defined]  # noqa: F821 - the board's
                time.sleep_ms(2)

        @session.task
        def squares(n):  # type: ignore[no-untyped-def]
            for k in range(n):
                yield k * k

        name = await heartbeat()
        with anyio.move_on_after(0.5):
            async for _ in squares(10**9):
                pass
        assert [v async for v in squares(5)] == [0, 1, 4, 9, 16]
        stats = await session.board_stats()
        assert stats["threads"][name][0] == "running"  # the cancel did not touch the thread
        assert await session.eval("beats[0]") > 0


async def test_a_generator_cannot_be_a_thread(manager: DeviceSessionManager) -> None:
    async with manager.session(port_of(manager), on_output=None) as session:

        def gives():  # type: ignore[no-untyped-def]
            yield 1

        with pytest.raises(DeviceValueError, match="a thread cannot yield"):
            session.thread(gives)


def test_the_blocking_api_iterates_a_generator_task_as_a_plain_iterator() -> None:
    with belay.connect("unix", on_output=None) as session:

        @session.task
        def countdown(n):  # type: ignore[no-untyped-def]
            while n > 0:
                yield n
                n -= 1

        assert list(countdown(3)) == [3, 2, 1]
        values = countdown(100)
        assert next(values) == 100
        values.close()
        assert session.eval("1 + 1") == 2
