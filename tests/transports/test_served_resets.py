"""Resets over a serial path: an ESP32-like board (a scripted pty relaying to a served unix
board) that prints its ROM boot noise and banner in the middle of a call, and the served unix
board (``belay virtual-board``) whose interpreter is killed: it resets, and is served on."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from fake_board_pty import ESP32_BOOT, FakeBoardPty, served_unix_board

from belay import DeviceSessionManager, SessionOptions
from belay.device import Device
from belay.errors import ConnectionLostError
from belay.session.state import SessionState

pytestmark = pytest.mark.anyio

GUARD = 30
"""Seconds after which a hanging test fails (far below the calls' own deadlines)."""


@pytest.fixture
def unix_pty() -> Iterator[str]:
    with served_unix_board() as path:
        yield path


async def test_esp32_boot_noise_then_a_banner_mid_call_fails_the_call_at_once(
    tmp_path: Path, unix_pty: str
) -> None:
    with FakeBoardPty(tmp_path / "ttyUSB0", upstream=unix_pty) as board:
        async with await Device.open(str(board.path), call_timeout=120) as device:
            assert await device.eval("6 * 7") == 42

            async def reset_soon() -> None:
                await anyio.sleep(0.5)
                board.reset(ESP32_BOOT)

            caught: list[ConnectionLostError] = []

            async def long_call() -> None:
                try:
                    await device.exec("import time\ntime.sleep(20)")
                except ConnectionLostError as error:
                    caught.append(error)

            with anyio.fail_after(GUARD):
                async with anyio.create_task_group() as group:
                    group.start_soon(reset_soon)
                    group.start_soon(long_call)
            (error,) = caught
            assert error.rebooted
            assert "rebooted (a hard reset)" in str(error)
            assert "MicroPython v1.22.0 on 2023-12-27; Generic ESP32 module with ESP32" in str(error)
            with anyio.fail_after(GUARD):
                assert await device.eval("2 + 3") == 5  # back at the raw REPL


async def test_a_served_unix_board_whose_interpreter_is_killed_resets_and_is_served_on(unix_pty: str) -> None:
    async with DeviceSessionManager(SessionOptions(call_timeout=120)) as manager:
        session = await manager.create_session(unix_pty)
        with anyio.fail_after(GUARD), pytest.raises(ConnectionLostError, match=r"rebooted \(a hard reset\)"):
            await session.exec("import os\nos.system('kill -9 $PPID')\nimport time\ntime.sleep(5)")
        assert session.state is SessionState.LOST
        await manager.end_session(session.session_id)
        with anyio.fail_after(GUARD):
            async with manager.session(unix_pty) as again:
                assert await again.eval("6 * 7") == 42
