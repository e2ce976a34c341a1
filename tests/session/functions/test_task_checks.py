"""What a task can never do on the board is refused on the host before anything is sent, and a
board NameError for a host global says so (issue 12, item 3); signatures work as in Python."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import anyio
import pytest
from session_helpers import port_of, writes_to

from belay import DeviceExecError, DeviceSessionManager, DeviceTimeoutError, DeviceValueError

pytestmark = pytest.mark.anyio
BOTH_APIS = True  # the session tests run through the blocking API too (tests/blocking_adapter.py)

SCALE = 3  # a host global a careless task uses as if it were on the board


async def test_a_closure_variable_is_refused_at_decoration_naming_it(manager: DeviceSessionManager) -> None:
    offset = 10
    async with manager.session(port_of(manager), on_output=None) as session:
        closure = pytest.raises(DeviceValueError, match=r"'offset'.*closure variable")
        with writes_to(session.board.device) as written, closure as caught:

            @session.task
            def shifted(x):  # type: ignore[no-untyped-def]
                return x + offset

        assert written == [], "nothing may be sent for a task that cannot exist on the board"
        assert "pass it as an argument" in str(caught.value)
        assert await session.eval("1 + 1") == 2


async def test_a_name_error_for_a_host_global_gets_a_hint(manager: DeviceSessionManager) -> None:
    async with manager.session(port_of(manager), on_output=None) as session:

        @session.task
        def scaled(x):  # type: ignore[no-untyped-def]
            return x * SCALE  # on the board it does not exist

        with pytest.raises(DeviceExecError) as caught:
            await scaled(2)
        assert caught.value.remote_type == "NameError"
        assert caught.value.hint is not None
        assert "'SCALE' is defined in your host module, not on the board" in str(caught.value)
        assert "define it with session.exec" in str(caught.value)
        await session.exec(f"SCALE = {SCALE}")
        assert await scaled(2) == 6  # defined on the board now: the same task works


async def test_a_name_error_for_a_name_the_host_lacks_too_gets_no_hint(manager: DeviceSessionManager) -> None:
    async with manager.session(port_of(manager), on_output=None) as session:

        @session.task
        def broken():  # type: ignore[no-untyped-def]
            return nowhere_at_all  # type: ignore[name-defined]  # noqa: F821

        with pytest.raises(DeviceExecError) as caught:
            await broken()
        assert caught.value.remote_type == "NameError"
        assert caught.value.hint is None
        assert "host module" not in str(caught.value)


async def test_source_as_text_runs_where_inspect_cannot_find_it(manager: DeviceSessionManager) -> None:
    async with manager.session(port_of(manager), on_output=None) as session:
        power = session.task(source="def power(x, n=2):\n    return x ** n\n")
        assert power.__name__ == "power"
        assert await power(3) == 9
        assert await power(2, n=5) == 32
        with pytest.raises(DeviceValueError, match="exactly one def"):
            session.task(source="x = 1\ndef f(): pass\n")
        with pytest.raises(DeviceValueError, match="not valid Python"):
            session.task(source="def f(:\n pass\n")


async def test_signatures_work_as_in_python(manager: DeviceSessionManager) -> None:
    async with manager.session(port_of(manager), on_output=None) as session:

        @session.task
        def describe(a, b=2, *rest, scale=1, **named):  # type: ignore[no-untyped-def]
            return [a * scale, b, list(rest), sorted(named.items())]

        @session.task
        def keyword_only(*, first, second=20):  # type: ignore[no-untyped-def]
            return first + second

        assert await describe(1) == [1, 2, [], []]
        assert await describe(1, 3, 4, 5, scale=10, z=1, y=2) == [10, 3, [4, 5], [("y", 2), ("z", 1)]]
        assert await keyword_only(first=1) == 21
        assert await keyword_only(first=1, second=2) == 3
        with pytest.raises(DeviceExecError) as caught:
            await keyword_only(1)  # positional where only keywords go: the board says so
        assert caught.value.remote_type == "TypeError"


def test_async_defs_and_non_functions_are_refused_before_a_board_is_touched() -> None:
    from belay.session.functions.source import remote_code

    async def waits():  # type: ignore[no-untyped-def]
        return 1

    with pytest.raises(DeviceValueError, match="async def"):
        remote_code(waits)
    with pytest.raises(DeviceValueError, match="not a function"):
        remote_code(42)  # type: ignore[arg-type]


def test_a_task_from_python_c_says_how_to_fix_it() -> None:
    script = textwrap.dedent(
        """
        from belay.errors import DeviceValueError
        from belay.session.functions.source import remote_code
        def f(x):
            return x
        try:
            remote_code(f)
        except DeviceValueError as error:
            print(error)
        """
    )
    command = [sys.executable, "-c", script]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    assert "the source of f is not available" in done.stdout
    assert "session.task(source='def f(...): ...')" in done.stdout


async def test_a_large_task_result_is_read_off_the_event_loop_within_the_deadline(
    manager: DeviceSessionManager,
) -> None:
    """A result of ~200 KB (past what is parsed inline) comes back whole, the event loop
    ticking meanwhile; with no time left for it, it is a DeviceTimeoutError."""
    if port_of(manager) != "unix":
        pytest.skip("the micro:bit's heap cannot build a 200 KB answer")
    async with manager.session("unix") as session:

        @session.task
        def many(n):  # type: ignore[no-untyped-def]
            return [(i, "x") for i in range(n)]

        assert await many(20000) == [(i, "x") for i in range(20000)]
        deep = (  # 1.8 MB of nested literal, printed in ~0.3 s, that takes ~1.6 s to read
            "print('\\x1e[', end='')\n"
            "for _i in range(100000): print('(1,(2,[3,{4:5}])),', end='')\nprint(']')"
        )
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await anyio.sleep(0.01)
                ticks += 1

        async with anyio.create_task_group() as group:
            group.start_soon(tick)
            assert len(await session.run_value(deep, timeout=30)) == 100000
            assert ticks >= 20  # the loop kept running while it was read
            with pytest.raises(DeviceTimeoutError):
                await session.run_value(deep, timeout=0.8)  # the board is done in time, the read is not
            group.cancel_scope.cancel()
        assert await session.eval("1 + 1") == 2
