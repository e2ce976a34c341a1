"""Deadlines everywhere: a board that never answers, ignores ctrl-C, freezes or stops reading
gives a clear error within the deadline, never a hang, and works again once it behaves.

What can be simulated here: a silent pty, a board end answering line noise (what a wrong baud
rate looks like; a pty has no baud rate), real firmware looping with ctrl-C disabled
(``micropython.kbd_intr(-1)``), a frozen interpreter (SIGSTOP on the unix board), and a
transport whose writes block (hardware flow control held off).
"""

from __future__ import annotations

import os
import random
import signal

import anyio
import pytest

from belay import (
    BelayError,
    DeviceSessionManager,
    DeviceTimeoutError,
    NotMicroPythonError,
    ResourceCleanupError,
    SessionOptions,
    SessionState,
)
from belay.device import Device
from belay.transports import BoardEnd, MemoryTransport

from .fake_board import FakeBoard

pytestmark = pytest.mark.anyio

GUARD = 20.0
"""The most any step here may take before the test calls it a hang (not a speed test)."""

IGNORES_CTRL_C = """
import micropython
try:
    from microbit import uart
    def read():
        return uart.read(1)
except ImportError:
    import sys
    def read():
        return sys.stdin.buffer.read(1)
micropython.kbd_intr(-1)
while read() != b'Z':
    pass
micropython.kbd_intr(3)
released = 1
"""


async def test_a_board_ignoring_ctrl_c_times_out_within_each_deadline_then_comes_back(board: str) -> None:
    """Real firmware in a loop with ctrl-C off, eating every byte the host sends, until 'Z'."""
    async with await Device.open(board) as device:
        device.sync_timeout = device.recover_timeout = 1.0
        with anyio.fail_after(GUARD), pytest.raises(DeviceTimeoutError) as first:
            await device.exec(IGNORES_CTRL_C, timeout=0.3)
        assert first.value.timeout == 0.3 and board in str(first.value)
        start = anyio.current_time()
        with anyio.fail_after(GUARD), pytest.raises(DeviceTimeoutError) as second:
            await device.eval("1", timeout=0.5)  # the board is still stuck: this call's deadline holds
        assert "did not come back" in str(second.value)
        assert anyio.current_time() - start < 0.5 + 3  # its own deadline, not the 1 s sync timeout twice
        await device.transport.send(b"Z")
        with anyio.fail_after(GUARD):
            assert await device.eval("released", timeout=10) == 1
            assert await device.eval("2 + 2") == 4


async def test_a_frozen_board_never_hangs_a_call_or_a_session_and_works_when_thawed() -> None:
    options = SessionOptions(sync_timeout=1.0, cleanup_timeout=1.0)
    async with DeviceSessionManager(options) as manager:
        session = await manager.create_session("unix")
        await session.exec("x = 1")
        board = manager.board("unix")
        assert board is not None
        pid = board.device.transport.pid  # type: ignore[attr-defined]
        os.kill(pid, signal.SIGSTOP)
        try:
            with anyio.fail_after(GUARD):
                with anyio.move_on_after(0.3) as scope:  # no call_timeout: the caller's cancel
                    await session.eval("x")
                assert scope.cancelled_caught
                with pytest.raises(DeviceTimeoutError):
                    await session.eval("x")  # SessionOptions.call_timeout is None: the sync bound applies
                with pytest.raises(ResourceCleanupError):
                    await manager.end_session(session.session_id)  # shielded, and within its deadline
                with pytest.raises(BelayError):
                    await manager.create_session("unix")
        finally:
            os.kill(pid, signal.SIGCONT)
        assert session.state in (SessionState.CLOSED, SessionState.LOST)
        with anyio.fail_after(GUARD):
            async with manager.session("unix") as after:
                assert await after.eval("6 * 7") == 42


async def test_a_session_cancelled_while_it_ends_is_still_cleaned_up(board: str) -> None:
    async with DeviceSessionManager(SessionOptions(cleanup_timeout=10.0)) as manager:
        with anyio.fail_after(GUARD), anyio.CancelScope() as scope:
            async with manager.session(board) as session:
                await session.exec("data = bytearray(200)")
                scope.cancel()
                await anyio.sleep(5)  # cancelled here: the block ends, the cleanup must still run
        assert scope.cancelled_caught
        assert session.state is SessionState.CLOSED
        assert manager.list_sessions() == []
        async with manager.session(board) as after:
            assert await after.eval("1 + 1") == 2


class StopsReading(MemoryTransport):
    """A line whose writes block once ``reading`` is off (hardware flow control held off)."""

    reading = True

    async def send(self, data: bytes) -> None:
        if not self.reading:
            await anyio.sleep_forever()
        await super().send(data)


async def test_a_board_that_stops_reading_cannot_hang_a_call_or_its_recovery() -> None:
    transport, end = MemoryTransport.pair()
    transport.__class__ = StopsReading
    device = Device.over(transport, sync_timeout=0.5, recover_timeout=0.5)
    async with anyio.create_task_group() as group:
        group.start_soon(FakeBoard(end).run)
        with anyio.fail_after(GUARD):
            assert await device.eval("1", timeout=2) == 1
            transport.reading = False  # type: ignore[attr-defined]
            for n in (2, 3):
                with pytest.raises(DeviceTimeoutError):
                    await device.eval(str(n), timeout=0.3)
            transport.reading = True  # type: ignore[attr-defined]
            assert await device.eval("4", timeout=5) == 4
        group.cancel_scope.cancel()


async def _line_noise(end: BoardEnd, flood: bool) -> None:
    """What a UART at the wrong baud rate shows: bytes, mostly high, for every byte sent."""
    noise = random.Random(7)
    while True:
        if flood:
            await anyio.sleep(0.001)
        else:
            await end.sent()
        end.feed(bytes(noise.choice(b"\x00\x80\xe0\xf0\xf8\xfc\xfe\xff~x") for _ in range(24)))


@pytest.mark.parametrize("flood", [False, True], ids=["answers-noise", "floods-noise"])
async def test_a_wrong_baud_rate_is_not_micropython_within_the_sync_timeout(flood: bool) -> None:
    transport, end = MemoryTransport.pair()
    device = Device.over(transport, sync_timeout=0.5)
    async with anyio.create_task_group() as group:
        group.start_soon(_line_noise, end, flood)
        with anyio.fail_after(GUARD), pytest.raises(NotMicroPythonError) as caught:
            await device.eval("1", timeout=1.0)
        group.cancel_scope.cancel()
    assert caught.value.port == "memory"
    assert 0 < len(caught.value.received) <= 256
    assert len(device._link.protocol._inbox) <= 64


async def test_belays_own_calls_have_a_deadline_by_default_and_the_users_code_none() -> None:
    """With no ``call_timeout`` (the default), the user's code runs as long as it likes, while
    every call belay makes for itself (file chunks, stats, a session's renewal) is bounded by
    ``bookkeeping_timeout``: a board frozen while in step never leaves one waiting."""
    options = SessionOptions(bookkeeping_timeout=0.5, sync_timeout=1.0, cleanup_timeout=1.0)
    async with DeviceSessionManager(options) as manager:
        session = await manager.create_session("unix")
        assert options.call_timeout is None
        with anyio.fail_after(GUARD):
            await session.exec("import time\ntime.sleep_ms(1200)")  # past bookkeeping_timeout: the user's
        board = manager.board("unix")
        assert board is not None
        pid = board.device.transport.pid  # type: ignore[attr-defined]
        for bookkeeping in (
            lambda: session.fs.put(b"x" * 100, "data.bin"),
            lambda: session.fs.ls(),
            session.board_stats,
            session.renew_lease,
            lambda: board.device.exec("pass"),  # a call given no deadline: belay's own
        ):
            assert await session.eval("1") == 1  # in step, so only the call's own deadline can end it
            os.kill(pid, signal.SIGSTOP)
            try:
                with anyio.fail_after(GUARD), pytest.raises(DeviceTimeoutError, match=r"within 0\.5s"):
                    await bookkeeping()
            finally:
                os.kill(pid, signal.SIGCONT)
        with anyio.fail_after(GUARD):
            assert await session.eval("6 * 7") == 42
