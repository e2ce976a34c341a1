"""A USB board unplugged and plugged back in under the same path, through the session manager:
the sessions that were on it are LOST with a clear error, never a hang, and the manager opens
the board again on the next call. The board is a :class:`FakeBoardPty` in front of a real
unix board, whose pty closes (and path goes) as a USB device's does."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import pytest
from fake_board_pty import FakeBoardPty, served_unix_board

from belay import (
    ConnectionLostError,
    DeviceSession,
    DeviceSessionManager,
    PortNotFoundError,
    SessionError,
    SessionOptions,
)
from belay.session.state import SessionState

pytestmark = pytest.mark.anyio
OPTIONS = SessionOptions(sync_timeout=3.0, cleanup_timeout=5.0, call_timeout=10.0)


@pytest.fixture(scope="module")
def unix_pty() -> Iterator[str]:
    with served_unix_board() as path:
        yield path


@pytest.fixture
def usb_board(tmp_path: Path, unix_pty: str) -> Iterator[FakeBoardPty]:
    with FakeBoardPty(tmp_path / "ttyACM0", upstream=unix_pty) as board:
        yield board


@pytest.fixture
async def manager() -> AsyncIterator[DeviceSessionManager]:
    async with DeviceSessionManager(OPTIONS) as opened:
        yield opened


async def test_a_call_on_an_unplugged_board_fails_at_once_and_the_board_is_reopened_when_back(
    usb_board: FakeBoardPty, manager: DeviceSessionManager
) -> None:
    port = str(usb_board.path)
    with anyio.fail_after(30):
        before = await manager.create_session(port, on_output=None)
        await before.exec("kept = 1")
        usb_board.vanish()
        started = anyio.current_time()
        with pytest.raises(ConnectionLostError) as caught:
            await before.eval("kept")
        assert anyio.current_time() - started < 1.0
        assert port in str(caught.value) and before.state is SessionState.LOST
        with pytest.raises(PortNotFoundError):  # still unplugged: said so, at once
            await manager.create_session(port, on_output=None)
        usb_board.come_back()
        async with manager.session(port, on_output=None) as after:
            assert await after.eval("6 * 7") == 42
        with pytest.raises(SessionError, match="lost"):
            await before.eval("kept")
        await manager.end_session(before.session_id)
    assert usb_board.opens == 2


async def test_a_board_unplugged_and_back_between_calls_is_reopened_on_the_next_session(
    usb_board: FakeBoardPty, manager: DeviceSessionManager
) -> None:
    port = str(usb_board.path)
    with anyio.fail_after(30):
        idle = await manager.create_session(port, on_output=None)
        usb_board.vanish()
        usb_board.come_back()  # nobody called in between: nothing noticed yet
        async with manager.session(port, on_output=None) as fresh:
            assert await fresh.eval("1 + 1") == 2
        assert idle.state is SessionState.LOST
        with pytest.raises(SessionError, match="lost"):
            await idle.exec("pass")
        await manager.end_session(idle.session_id)
    assert usb_board.opens == 2


async def test_execute_in_session_rides_out_a_board_that_comes_back_within_its_retries(
    usb_board: FakeBoardPty, manager: DeviceSessionManager
) -> None:
    port = str(usb_board.path)
    attempts: list[float] = []

    async def answer(session: DeviceSession) -> object:
        attempts.append(anyio.current_time())
        if len(attempts) == 1:  # unplugged under the first attempt, back a moment later
            usb_board.vanish()
            threading.Timer(0.2, usb_board.come_back).start()
        return await session.eval("6 * 7")

    with anyio.fail_after(30):
        assert await manager.execute_in_session(port, answer, retries=6) == 42
    assert len(attempts) >= 2 and usb_board.opens == 2


async def test_a_call_running_when_the_board_is_unplugged_fails_at_once_not_at_its_deadline(
    usb_board: FakeBoardPty, manager: DeviceSessionManager
) -> None:
    port = str(usb_board.path)
    async with manager.session(port, on_output=None) as session:
        threading.Timer(0.3, usb_board.vanish).start()
        started = anyio.current_time()
        with anyio.fail_after(5), pytest.raises(ConnectionLostError):
            await session.exec("import time\ntime.sleep(8)", timeout=8.0)
        assert anyio.current_time() - started < 1.5
        assert session.state is SessionState.LOST
