"""Ctrl-C on the unix board behaves as on a board's UART: it interrupts running code and is
a harmless byte otherwise; it never ends the interpreter, whatever moment it lands at."""

from __future__ import annotations

import os
import random
import signal
from pathlib import Path

import anyio
import anyio.lowlevel
import pytest

from belay import DeviceExecError, DeviceSessionManager, SessionOptions
from belay.device import Device
from belay.transports import unix_locks
from belay.transports.process import interrupt_if_caught

pytestmark = pytest.mark.anyio


async def _cancel_after_turns(scope: anyio.CancelScope, turns: int) -> None:
    for _ in range(turns):
        await anyio.lowlevel.checkpoint()
    scope.cancel()


async def test_ctrl_c_at_any_moment_around_a_call_never_ends_the_interpreter() -> None:
    """Thousands of cancels at the first loop turns of short calls: the interpreter holds its
    SIGINT handler only while code runs, so a ctrl-C turned into SIGINT by the tty as a call
    started or ended used to end it (about once in 2,000 such calls)."""
    noise = random.Random(3)
    async with await Device.open("unix") as device:
        pid = device.transport.pid  # type: ignore[attr-defined]
        with anyio.fail_after(120):
            for i in range(4000):
                with anyio.CancelScope() as scope:
                    async with anyio.create_task_group() as group:
                        group.start_soon(_cancel_after_turns, scope, noise.randrange(3))
                        await device.eval(f"{i} + 1")
                        group.cancel_scope.cancel()
            assert await device.eval("'alive'") == "alive"
        assert device.transport.pid == pid and device.transport.generation == 0  # type: ignore[attr-defined]
        assert device.reboots == 0 and not device.is_lost


async def test_ctrl_c_interrupts_running_code_and_the_board_keeps_its_ram() -> None:
    async with await Device.open("unix") as device:
        await device.exec("kept = 5")
        with anyio.fail_after(20), anyio.move_on_after(0.3):
            await device.exec("while True: pass")
        assert await device.eval("kept") == 5
        errors: list[DeviceExecError] = []

        async def sleeper() -> None:
            try:
                await device.exec("import time\ntime.sleep(5)")
            except DeviceExecError as error:
                errors.append(error)

        with anyio.fail_after(20):
            async with anyio.create_task_group() as group:
                group.start_soon(sleeper)
                await anyio.sleep(0.3)
                assert await interrupt_if_caught(device.transport.pid)  # type: ignore[attr-defined]
        assert [error.remote_type for error in errors] == ["KeyboardInterrupt"]
        assert await device.eval("kept") == 5


def _state(pid: int) -> str:
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0]


async def _stays_stopped(pid: int) -> None:
    """``pid`` stops (a SIGSTOP takes effect only once the process runs) and stays stopped."""
    with anyio.fail_after(5):
        while _state(pid) not in "Tt":  # noqa: ASYNC110  # a stop is seen only in /proc
            await anyio.sleep(0.001)
    await anyio.sleep(0.1)
    assert _state(pid) in "Tt"


async def test_an_interrupt_does_not_wake_a_board_someone_else_stopped() -> None:
    """Also when the stop was sent but not yet taken (the process still shows as running):
    the interrupt's own SIGSTOP/SIGCONT used to cancel it, about one time in two."""
    async with await Device.open("unix") as device:
        pid = device.transport.pid  # type: ignore[attr-defined]
        for _ in range(20):
            os.kill(pid, signal.SIGSTOP)
            try:
                assert await interrupt_if_caught(pid) is False
                await _stays_stopped(pid)
            finally:
                os.kill(pid, signal.SIGCONT)
            with anyio.fail_after(20):
                assert await device.eval("1") == 1


async def test_an_interrupt_does_not_wake_running_code_someone_else_stopped() -> None:
    async with await Device.open("unix") as device:
        pid = device.transport.pid  # type: ignore[attr-defined]
        with anyio.fail_after(30):
            async with anyio.create_task_group() as group:
                group.start_soon(device.exec, "import time\nfor i in range(150):\n    time.sleep_ms(10)")
                await anyio.sleep(0.3)  # the loop runs: its SIGINT handler is in place
                os.kill(pid, signal.SIGSTOP)
                try:
                    await _stays_stopped(pid)
                    assert await interrupt_if_caught(pid) is False
                    await _stays_stopped(pid)
                finally:
                    os.kill(pid, signal.SIGCONT)
            assert await device.eval("i") == 149  # continued, never interrupted


_COUNTING_THREAD = """
import _thread, time
ticks = [0]
died = []
def _count():
    try:
        while True:
            ticks[0] += 1
            time.sleep_ms(10)
    except BaseException as e:
        died.append(repr(e))
_thread.start_new_thread(_count, ())
"""


async def test_an_interrupt_for_a_call_never_reaches_a_background_thread() -> None:
    """Regression: the interrupt was a process-directed SIGINT sent while the interpreter was
    stopped, so the first thread to run after SIGCONT took it, often a background thread,
    which then died of the KeyboardInterrupt meant for the call. It goes to the main thread."""
    async with await Device.open("unix") as device:
        await device.exec(_COUNTING_THREAD)
        with anyio.fail_after(60):
            for _ in range(20):
                with anyio.move_on_after(0.2):
                    await device.exec("while True: pass")
                assert await device.eval("died") == []
            before = await device.eval("ticks[0]")
            await anyio.sleep(0.2)
            assert await device.eval("ticks[0]") > before
            assert await device.eval("died") == []
        assert device.reboots == 0 and not device.is_lost


async def test_interrupts_of_allocating_code_never_lock_the_heap_or_stall_a_thread() -> None:
    """The unix port raises KeyboardInterrupt straight out of its SIGINT handler; landing in
    its garbage collector or a thread-list section it left the heap locked ("MemoryError:
    heap is locked") or the session's thread blocked for good ("thread spin-1 did not
    stop"), a few times in ten runs of a cancel on a 9600 line. The interrupt now waits for
    the interpreter to be outside both locks, as a board takes Ctrl-C between bytecodes."""
    noise = random.Random(5)
    async with DeviceSessionManager(SessionOptions(cleanup_timeout=10)) as manager:
        async with manager.session("unix", on_output=None) as session:

            @session.thread
            def churn():  # type: ignore[no-untyped-def]
                import time

                import belay_agent

                kept = []
                while belay_agent.running():
                    kept.append([0] * 50)
                    if len(kept) > 200:
                        kept = []
                    time.sleep_ms(1)  # flat out, it hit MemoryError beside CPU burners (cause open)

            await churn()
            with anyio.fail_after(120):
                for _ in range(150):
                    with anyio.move_on_after(noise.uniform(0.002, 0.03)):
                        await session.exec("while True:\n    x = [[0] * 30 for i in range(40)]")
                    assert await session.eval("len([0] * 1000)") == 1000
            stats = await session.board_stats()
            assert [state for state, _ in stats["threads"].values()] == ["running"], stats["threads"]
        # and it ends cleanly: its thread saw the session end (no ResourceCleanupError)
        board = manager.board("unix")
        assert board is not None
        assert await board.device.eval("len(__import__('belay_agent_threads').R)") == 0


def test_an_interpreter_whose_locks_cannot_be_found_is_interrupted_as_before(tmp_path: Path) -> None:
    """A stripped or foreign build (``BELAY_MICROPYTHON``): nothing known, nothing waited for."""
    not_elf = tmp_path / "micropython"
    not_elf.write_bytes(b"#!/bin/sh\nexec true\n")
    assert unix_locks.lock_offsets(str(not_elf)) == ()
    assert unix_locks.in_a_lock(os.getpid(), ()) is None
    assert unix_locks.prepare(os.getpid()) == ()  # this Python process maps no MicroPython
