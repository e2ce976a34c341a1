"""Ctrl-C on the unix board behaves as on a board's UART: it interrupts running code and is
a harmless byte otherwise; it never ends the interpreter, whatever moment it lands at."""

from __future__ import annotations

import os
import random
import signal

import anyio
import anyio.lowlevel
import pytest

from belay import DeviceExecError
from belay.device import Device
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
