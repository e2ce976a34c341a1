"""Sessions on both virtual boards, checked by an observer that is not the session."""

from __future__ import annotations

import anyio
import pytest
from session_helpers import observer, port_of, writes_to

from belay import (
    DeviceCapabilityError,
    DeviceSession,
    DeviceSessionManager,
    ResourceCleanupError,
    SessionError,
    SessionLimitError,
    SessionOptions,
    SessionState,
)
from belay.agent import calls
from belay.agent.answers import value_of
from belay.agent.stats_record import stats_record
from belay.device import Device
from belay.session.state import SessionEvent, next_state

pytestmark = pytest.mark.anyio
BOTH_APIS = True  # the session tests run through the blocking API too (tests/blocking_adapter.py)


async def free_heap(device: Device) -> int:
    return int(await device.eval_code("import gc\ngc.collect()\ngc.collect()\nprint(gc.mem_free())"))


async def board_sessions(device: Device) -> dict[str, object]:
    stats = stats_record(value_of((await device.call(calls.stats())).output), device.port)
    return dict(stats["sessions"])


async def test_tasks_run_on_the_board_and_later_calls_send_fewer_bytes(manager: DeviceSessionManager) -> None:
    async with manager.session(port_of(manager)) as session:

        @session.task
        def add(a, b):  # type: ignore[no-untyped-def]
            return a + b

        with writes_to(observer(manager)) as sent:
            assert await add(1, 2) == 3
        first = sum(map(len, sent))
        with writes_to(observer(manager)) as sent:
            assert await add(40, 2) == 42
        second = sum(map(len, sent))
        assert second < first
        assert "def add" not in str(session.resources.deployed_methods())
        assert session.resources.is_method_deployed("add", add.code.code_hash)


async def test_everything_is_gone_from_the_board_after_the_session(manager: DeviceSessionManager) -> None:
    port = port_of(manager)
    async with manager.session(port):  # loads the agent, so the heap below excludes it
        pass
    device = observer(manager)
    await board_sessions(device)  # the same observations as below, so both heaps see them
    before = await free_heap(device)
    async with manager.session(port) as session:
        await session.exec("table = [bytearray(32) for _ in range(20)]\ndef read():\n    return len(table)")
        assert await session.eval("read()") == 20
        session_id = session.session_id
        assert session_id in await board_sessions(device)
    assert session.state is SessionState.CLOSED
    assert session_id not in await board_sessions(device)
    assert abs(await free_heap(device) - before) <= 256


async def test_threads_and_timers_really_stop(manager: DeviceSessionManager) -> None:
    port = port_of(manager)
    async with manager.session(port) as probe:
        if not probe.capabilities.threads:

            def idle():  # type: ignore[no-untyped-def]
                pass

            with pytest.raises(DeviceCapabilityError):
                await probe.thread(idle)()
            with pytest.raises(DeviceCapabilityError):
                await probe.timer(idle, period_ms=10)
            pytest.skip("the board has no _thread (threads and timers refused above)")
    device = observer(manager)
    await device.exec("import sys\nclass Counter:\n    n = 0\nsys.modules['counter'] = Counter")
    async with manager.session(port) as session:

        @session.thread
        def spin():  # type: ignore[no-untyped-def]
            import time

            import belay_agent
            import counter

            while belay_agent.running():
                counter.n += 1
                time.sleep_ms(5)

        @session.task
        def tick():  # type: ignore[no-untyped-def]
            import counter

            counter.n += 1000

        await spin()
        await session.timer(tick, period_ms=20)
        await anyio.sleep(0.2)
        assert session.resources.active_threads() and session.resources.timers()
    counted = await device.eval("sys.modules['counter'].n")
    assert counted > 1000  # both ran
    await anyio.sleep(0.2)
    assert await device.eval("sys.modules['counter'].n") == counted  # and both stopped


async def test_a_thread_that_ignores_stop_is_reported_not_waited_on(manager: DeviceSessionManager) -> None:
    async with manager.session(port_of(manager)) as probe:
        if not probe.capabilities.threads:
            pytest.skip("the board has no _thread")
    with anyio.fail_after(10), pytest.raises(ResourceCleanupError, match="did not stop"):
        async with manager.session(port_of(manager)) as session:

            @session.thread
            def stubborn():  # type: ignore[no-untyped-def]
                import belay_agent  # its sleep is the board's own: no stop point, as `time`'s is

                for _ in range(150):
                    belay_agent.sleep_ms(10)

            await stubborn()
    await anyio.sleep(1.6)  # let it finish so the board is clean for the next test


async def test_two_sessions_each_see_their_own_functions(manager: DeviceSessionManager) -> None:
    port = port_of(manager)
    async with manager.session(port) as first, manager.session(port) as second:

        @first.task
        def read():  # type: ignore[no-untyped-def]
            return "first"

        first_read = read

        @second.task
        def read():  # type: ignore[no-untyped-def]
            return "second"

        assert await first_read() == "first"
        assert await read() == "second"
        await first.exec("x = 1")
        await second.exec("x = 2")
        assert (await first.eval("x"), await second.eval("x")) == (1, 2)


async def test_concurrent_sessions_all_get_right_answers(manager: DeviceSessionManager) -> None:
    port = port_of(manager)
    results: dict[int, list[int]] = {}
    # Twenty at once on the unix board. The micro:bit's ~5 KB left beside the agent holds three
    # sessions calling tasks at once; a fourth's code no longer finds a piece of heap to parse in.
    count = 20 if port == "unix" else 3

    async def worker(n: int) -> None:
        async with manager.session(port) as session:

            @session.task
            def scale(x, k):  # type: ignore[no-untyped-def]
                return x * k

            results[n] = [await scale(i, n) for i in range(3)]

    with anyio.fail_after(60):
        async with anyio.create_task_group() as group:
            for n in range(count):
                group.start_soon(worker, n)
    assert results == {n: [0, n, 2 * n] for n in range(count)}
    assert (await manager.stats()).max_active > 1
    assert await board_sessions(observer(manager)) == {}


async def test_cleanup_runs_when_the_block_raises_or_is_cancelled(manager: DeviceSessionManager) -> None:
    port = port_of(manager)
    ids: list[str] = []
    with pytest.raises(ZeroDivisionError):
        async with manager.session(port) as session:
            ids.append(session.session_id)
            await session.exec("data = bytearray(500)")
            raise ZeroDivisionError
    with anyio.move_on_after(0.3):
        async with manager.session(port) as session:
            ids.append(session.session_id)
            await session.exec("while True: pass")
    remaining = await board_sessions(observer(manager))
    assert not set(ids) & set(remaining)
    assert manager.list_sessions() == []


async def test_setup_and_teardown_run_in_order(manager: DeviceSessionManager) -> None:
    port = port_of(manager)
    async with manager.session(port) as session:
        device = observer(manager)
        await device.exec("log = []")
        await session.exec("import __main__")

        @session.setup
        def prepare():  # type: ignore[no-untyped-def]
            __main__.log.append("setup")  # type: ignore[name-defined]  # noqa: F821

        @session.teardown
        def finish():  # type: ignore[no-untyped-def]
            __main__.log.append("teardown")  # type: ignore[name-defined]  # noqa: F821

        await session.exec("__main__.log.append('work')")
    assert await device.eval("log") == ["setup", "work", "teardown"]


async def test_session_limit_is_enforced() -> None:
    async with DeviceSessionManager(SessionOptions(max_concurrent_sessions=2)) as manager:
        async with manager.session("unix"), manager.session("unix"):
            with pytest.raises(SessionLimitError):
                await manager.create_session("unix")
        async with manager.session("unix") as session:
            assert session.is_active


async def test_session_limit_can_wait_for_a_slot() -> None:
    options = SessionOptions(max_concurrent_sessions=1, wait_for_session_slot=True)
    async with DeviceSessionManager(options) as manager:
        first: list[DeviceSession] = []

        async def hold() -> None:
            async with manager.session("unix") as session:
                first.append(session)
                await anyio.sleep(0.2)

        async with anyio.create_task_group() as group:
            group.start_soon(hold)
            await anyio.sleep(0.05)  # the first one is opening (or open): the second must wait
            async with manager.session("unix"):
                assert [session.state for session in first] == [SessionState.CLOSED]


async def test_idle_sessions_are_ended() -> None:
    options = SessionOptions(session_timeout=0.3)
    async with DeviceSessionManager(options) as manager:
        session = await manager.create_session("unix")
        with anyio.fail_after(5):
            while session.state is SessionState.ACTIVE:  # noqa: ASYNC110 - polling the observed state is the test
                await anyio.sleep(0.05)
        assert session.state is SessionState.CLOSED
        assert manager.list_sessions() == []


async def test_manager_lookups_and_invalid_ids() -> None:
    async with DeviceSessionManager() as manager:
        async with manager.session("unix") as session:
            assert manager.get_session(session.session_id) is session
            assert manager.list_sessions(SessionState.ACTIVE) == [session]
            assert manager.list_sessions(SessionState.CLOSED) == []
        with pytest.raises(SessionError, match="no session"):
            manager.get_session(session.session_id)
        with pytest.raises(SessionError):
            await session.exec("1")


async def test_execute_in_session_retries_recoverable_failures() -> None:
    attempts: list[int] = []

    async def flaky(session: object) -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise SessionError("try again", recoverable=True)
        return "done"

    async with DeviceSessionManager() as manager:
        assert await manager.execute_in_session("unix", flaky, retries=3) == "done"
        assert len(attempts) == 3
        with pytest.raises(SessionError, match="fatal"):

            async def fatal(session: object) -> None:
                raise SessionError("fatal")

            await manager.execute_in_session("unix", fatal, retries=3)


def test_state_transitions_are_a_pure_function() -> None:
    assert next_state(SessionState.CREATED, SessionEvent.BEGIN) is SessionState.ACTIVE
    assert next_state(SessionState.ACTIVE, SessionEvent.LOSE) is SessionState.LOST
    with pytest.raises(SessionError, match="cannot begin while closed"):
        next_state(SessionState.CLOSED, SessionEvent.BEGIN)


async def test_a_warm_session_sends_no_agent_code(manager: DeviceSessionManager) -> None:
    port = port_of(manager)
    async with manager.session(port):
        pass
    with writes_to(observer(manager)) as sent:
        async with manager.session(port) as session:
            assert await session.eval("1 + 1") == 2
    wire = b"".join(sent)
    assert b"belay_agent" not in wire and b"open(" not in wire
    assert len(wire) < 200


async def test_background_output_and_crashes_are_kept_for_the_session() -> None:
    async with DeviceSessionManager() as manager, manager.session("unix") as session:

        @session.thread
        def chatty():  # type: ignore[no-untyped-def]
            print("from the thread")  # noqa: T201 - runs on the board
            raise ValueError("boom")

        name = await chatty()
        with anyio.fail_after(5):
            while (await session.board_stats())["threads"][name][0] == "running":  # noqa: ASYNC110
                await anyio.sleep(0.02)
        record = await session.board_stats()
        assert record["threads"][name] == ["crashed", "ValueError: boom"]
        output = await session.output()
        assert "from the thread" in output and "crashed: ValueError: boom" in output
        assert await session.output() == ""  # read once


@pytest.mark.parametrize("limit", [2048, 100])
async def test_background_output_past_the_limit_is_marked_as_dropped(limit: int) -> None:
    options = {} if limit == 2048 else {"thread_output_limit": limit}
    async with (
        DeviceSessionManager() as manager,
        manager.session("unix", on_output=None, **options) as session,
    ):

        @session.thread
        def chatty(n):  # type: ignore[no-untyped-def]
            for k in range(n):
                print("line %04d" % k)  # noqa: T201, UP031 - runs on the board (MicroPython 1.9)

        name = await chatty(300)  # 3000 characters
        with anyio.fail_after(5):
            while (await session.board_stats())["threads"][name][0] == "running":  # noqa: ASYNC110
                await anyio.sleep(0.02)
        output = await session.output()
        dropped = 3000 - limit
        assert output.startswith(f"[... {dropped} characters dropped ...]\n")
        kept = output.split("\n", 1)[1]
        assert len(kept) == limit and kept.endswith("line 0299\n")
        assert await session.output() == ""  # read once, the gap with it
