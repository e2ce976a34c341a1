"""Tasks, exec and eval: code sent once, values back as Python literals, errors named."""

from __future__ import annotations

import pytest

from belay import DeviceExecError, DeviceSession

pytestmark = pytest.mark.anyio


async def test_a_task_returns_its_value(belay_session: DeviceSession) -> None:
    @belay_session.task
    def add(a, b):  # type: ignore[no-untyped-def]
        return a + b

    assert await add(1, 2) == 3
    assert await add("be", "lay") == "belay"


async def test_arguments_and_results_are_python_literals(belay_session: DeviceSession) -> None:
    @belay_session.task
    def echo(*args, **kwargs):  # type: ignore[no-untyped-def]
        return [args, kwargs]

    value = [(1, -2.5, "é", b"\x00\xff", None, True, [1], {"k": (2,)}), {"flag": False}]
    assert await echo(*value[0], flag=False) == [value[0], value[1]]


async def test_a_task_is_deployed_once(belay_session: DeviceSession) -> None:
    @belay_session.task
    def square(x):  # type: ignore[no-untyped-def]
        return x * x

    assert not belay_session.resources.is_method_deployed("square", square.code.code_hash)
    assert [await square(n) for n in range(4)] == [0, 1, 4, 9]
    assert belay_session.resources.is_method_deployed("square", square.code.code_hash)
    assert belay_session.resources.stats().deployed_methods == 1


async def test_exec_and_eval_share_the_session_namespace(belay_session: DeviceSession) -> None:
    assert await belay_session.exec("x = 20\nprint('set', x)") == "set 20\n"
    assert await belay_session.eval("x + 1") == 21

    @belay_session.task
    def read_x():  # type: ignore[no-untyped-def]
        return x  # type: ignore[name-defined]  # noqa: F821 - the session's global, on the board

    assert await read_x() == 20


async def test_a_remote_error_is_raised_with_its_type_and_message(belay_session: DeviceSession) -> None:
    @belay_session.task
    def divide(a, b):  # type: ignore[no-untyped-def]
        return a // b

    with pytest.raises(DeviceExecError) as caught:
        await divide(1, 0)
    assert caught.value.remote_type == "ZeroDivisionError"
    assert await divide(7, 2) == 3  # the session still works


async def test_setup_runs_before_the_first_call_and_teardown_at_the_end(belay_session: DeviceSession) -> None:
    @belay_session.setup
    def prepare():  # type: ignore[no-untyped-def]
        global ready
        ready = True

    @belay_session.teardown
    def finish():  # type: ignore[no-untyped-def]
        global ready
        ready = False

    assert await belay_session.eval("ready") is True
