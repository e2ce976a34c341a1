"""``belay.connect``: the session API with plain calls (issue 12, item 4), on a board served on a
pty so an observer can check afterwards that it is exactly as clean as the async API leaves it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

import belay
from belay import DeviceExecError, DeviceTimeoutError
from belay.agent import calls
from belay.agent.answers import value_of
from belay.agent.stats_record import stats_record
from belay.device import Device

BELAY = str(Path(sys.executable).with_name("belay"))
KINDS = ["unix", pytest.param("microbit", marks=pytest.mark.microbit)]


@contextlib.contextmanager
def served(kind: str) -> Iterator[str]:
    """``belay virtual-board --kind KIND``: the pty path it serves; ended by its pid."""
    process = subprocess.Popen([BELAY, "virtual-board", "--kind", kind], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        path = process.stdout.readline().strip()
        assert path.startswith("/dev/"), path
        yield path
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@pytest.fixture(params=KINDS)
def board_path(request: pytest.FixtureRequest) -> Iterator[str]:
    with served(request.param) as path:
        yield path


def board_records(path: str) -> dict[str, object]:
    """The agent's sessions and orphaned threads on the board at ``path``, asked by an observer."""

    async def ask() -> dict[str, object]:
        async with await Device.open(path) as device:
            stats = stats_record(value_of((await device.call(calls.stats())).output), path)
            return {"sessions": stats["sessions"], "zombies": stats.get("zombies", {})}

    return anyio.run(ask)


def test_a_script_uses_exec_eval_tasks_and_files_with_plain_calls(board_path: str) -> None:
    printed: list[bytes] = []
    with belay.connect(board_path, on_output=printed.append) as session:
        assert session.exec("x = 6\nprint('six', x)") is None  # streamed to on_output, not returned
        assert session.eval("x * 7") == 42

        @session.task
        def add(a, b=10):  # type: ignore[no-untyped-def]
            return a + b

        assert add(1, 2) == 3
        assert add(5) == 15
        with pytest.raises(DeviceExecError, match="ZeroDivisionError"):
            session.exec("1 / 0")
        assert session.eval("x") == 6  # the session goes on after a board error
        session.fs.put(b"\x00\x01binary\xff", "blocking.bin", temporary=True)
        assert session.fs.get("blocking.bin") == b"\x00\x01binary\xff"
        assert "blocking.bin" in session.fs.ls()
        assert session.session.is_active
    assert b"".join(printed).replace(b"\r\n", b"\n") == b"six 6\n"  # as the board wrote it
    assert not session.session.is_active
    assert board_records(board_path)["sessions"] == {}


def test_a_timeout_interrupts_the_board_and_the_session_goes_on(board_path: str) -> None:
    with belay.connect(board_path, on_output=None) as session:
        with pytest.raises(DeviceTimeoutError):
            session.exec("while True:\n pass", timeout=0.5)
        assert session.eval("1 + 1") == 2


def test_threads_and_timers_through_plain_calls_are_removed_at_the_end() -> None:
    with served("unix") as path:
        with belay.connect(path, on_output=None) as session:
            session.exec("import time\nticks = [0]")

            @session.thread
            def spin():  # type: ignore[no-untyped-def]
                import belay_agent

                while belay_agent.running():  # stops when its session ends
                    time.sleep_ms(5)  # type: ignore[attr-defined]  # noqa: F821 - the board's time

            @session.task
            def bump():  # type: ignore[no-untyped-def]
                ticks[0] += 1  # type: ignore[name-defined]  # noqa: F821 - defined by exec above

            name = spin()
            timer = session.timer(bump, period_ms=20)
            assert session.board_stats()["threads"][name][0] == "running"
            timer.cancel()
        assert board_records(path) == {"sessions": {}, "zombies": {}}


def test_connect_works_where_an_event_loop_already_runs_in_the_thread() -> None:
    """As in Jupyter: the caller's thread runs a loop, and blocking calls are made on it."""

    async def notebook_cell() -> int:
        with belay.connect("unix", on_output=None) as session:
            return int(session.eval("40 + 2"))

    assert asyncio.run(notebook_cell()) == 42


def test_connect_from_a_thread_while_another_loop_runs() -> None:
    results: list[object] = []

    def worker() -> None:
        with belay.connect("unix", on_output=None) as session:
            results.append(session.eval("[n * n for n in range(4)]"))

    async def main_loop() -> None:
        ticks = 0

        async def keep_ticking() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        ticker = asyncio.create_task(keep_ticking())
        await asyncio.to_thread(worker)  # the main loop keeps running meanwhile
        ticker.cancel()
        assert ticks > 1

    asyncio.run(main_loop())
    assert results == [[0, 1, 4, 9]]


SIGINT_SCRIPT = """
import sys, belay
with belay.connect(sys.argv[1], on_output=None) as session:
    session.exec("n = 5")
    print("calling", flush=True)
    try:
        session.exec("while True:\\n pass")
    except KeyboardInterrupt:
        print("interrupted", flush=True)
    print("after", session.eval("n * 2"), flush=True)
    print("calling again", flush=True)
    session.exec("while True:\\n pass")
"""


def test_ctrl_c_in_a_blocking_call_interrupts_the_board_and_the_session_cleans_up(board_path: str) -> None:
    script = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(SIGINT_SCRIPT), board_path],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert script.stdout is not None
        lines = []
        for expected in ("calling", "interrupted", "after 10", "calling again"):
            if expected.startswith("calling"):
                line = script.stdout.readline().strip()
                assert line == expected, (lines, script.stderr.read() if script.poll() is not None else "")
                threading.Event().wait(0.5)  # the board is in the busy loop
                os.kill(script.pid, signal.SIGINT)
            else:
                line = script.stdout.readline().strip()
                assert line == expected, lines
            lines.append(line)
        _, stderr = script.communicate(timeout=60)
    finally:
        if script.poll() is None:
            os.kill(script.pid, signal.SIGKILL)
            script.wait(timeout=10)
    assert script.returncode != 0 and "KeyboardInterrupt" in stderr  # the second one ends the script
    assert board_records(board_path)["sessions"] == {}  # ... and its session was still ended


def test_every_blocking_call_takes_a_timeout_and_the_session_goes_on(board_path: str) -> None:
    """The deadlines of the async API, through plain calls: exec, eval, a task, a task with its
    own ``timeout`` parameter, a generator's step, ``with_timeout``."""
    with belay.connect(board_path, on_output=None) as session:
        spin = session.task(source="def spin():\n    while True:\n        pass")
        wait = session.task(source="def wait(timeout):\n    return timeout * 2")
        stalls = session.task(source="def stalls():\n    yield 'first'\n    while True:\n        pass")
        session.exec("def forever():\n    while True:\n        pass")
        with pytest.raises(DeviceTimeoutError):
            session.eval("forever()", timeout=0.5)
        with pytest.raises(DeviceTimeoutError):
            spin(timeout=0.5)
        assert wait(timeout=21) == 42  # a parameter of its own called timeout
        with pytest.raises(DeviceTimeoutError):
            spin.with_timeout(0.5)()
        values = stalls(timeout=0.5)
        assert next(values) == "first"
        with pytest.raises(DeviceTimeoutError):
            next(values)
        with pytest.raises(StopIteration):  # the interrupt ended it on the board
            next(values)
        assert session.eval("6 * 7") == 42
