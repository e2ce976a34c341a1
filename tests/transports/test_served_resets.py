"""Resets over a serial path: an ESP32-like board (a scripted pty relaying to a served unix
board) that prints its ROM boot noise and banner in the middle of a call, and the served unix
board (``belay virtual-board``) whose interpreter is killed: it resets, and is served on."""

from __future__ import annotations

import subprocess
import sys
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


STALE = ".belay-0123456789ab-1.part"
"""A partial file of a put by a session no board holds (its host was killed, or the board reset)."""

HOST = """
import sys, anyio
from belay import DeviceSessionManager
async def main():
    async with DeviceSessionManager() as manager:
        session = await manager.create_session(sys.argv[1])
        device = manager.board(sys.argv[1]).device
        await device.exec("import os\\ntry:\\n os.mkdir('lib')\\nexcept OSError:\\n pass")
        for name in (sys.argv[2], f".belay-{session.session_id}-1.part", "lib/" + sys.argv[2]):
            await device.exec(f"f=open({name!r},'w')\\nf.write('x')\\nf.close()\\ndel f")
        print(session.session_id, flush=True)
        await anyio.sleep(60)
anyio.run(main)
"""


def killed_host_session(path: str) -> str:
    """A host that opens a session on ``path``, leaves partial files, and is SIGKILLed: the id
    of its session, which the board holds until its lease runs out."""
    host = subprocess.Popen([sys.executable, "-c", HOST, path, STALE], stdout=subprocess.PIPE, text=True)
    try:
        assert host.stdout is not None
        return host.stdout.readline().strip()
    finally:
        host.kill()
        host.wait(timeout=10)
        if host.stdout is not None:
            host.stdout.close()


async def test_a_new_host_removes_stale_partial_files_keeps_live_ones_and_clean_removes_all(
    unix_pty: str,
) -> None:
    from belay.agent.install import remove_agent

    own = f".belay-{killed_host_session(unix_pty)}-1.part"
    async with DeviceSessionManager() as manager:
        async with manager.session(unix_pty):
            device = manager.board(unix_pty).device  # type: ignore[union-attr]
            names = await device.eval("__import__('os').listdir()")
            in_lib = await device.eval("__import__('os').listdir('lib')")
        assert STALE not in names and STALE not in in_lib
        assert own in names  # its session is still held: its lease has not run out
        await remove_agent(device, force=True)  # belay clean --force
        assert own not in await device.eval("__import__('os').listdir()")
