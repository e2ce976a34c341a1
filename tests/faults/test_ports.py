"""Ports that are not usable boards, through the session manager: a clear error naming the
port, no session slot taken, and the manager (and a session on a real board) unharmed."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from belay import DeviceSessionManager, NotMicroPythonError, PortBusyError, PortNotFoundError, SessionOptions

pytestmark = pytest.mark.anyio

HOLD_PORT = """
import sys, time, serial
port = serial.Serial(sys.argv[1], exclusive=True)
print("holding", flush=True)
time.sleep(60)
"""


@pytest.fixture
def pty_path() -> Iterator[str]:
    """A pty whose slave stands in for a serial port nobody answers on."""
    master, slave = pty.openpty()
    path = os.ttyname(slave)
    os.close(slave)
    try:
        yield path
    finally:
        os.close(master)


@pytest.fixture
def held_by_another_process(pty_path: str) -> Iterator[str]:
    """``pty_path``, opened exclusively by another process (as a terminal program would)."""
    holder = subprocess.Popen([sys.executable, "-c", HOLD_PORT, pty_path], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        yield pty_path
    finally:
        holder.kill()
        holder.wait(timeout=10)


async def _refused(manager: DeviceSessionManager, port: str, error: type[Exception]) -> Exception:
    before = await manager.stats()
    with anyio.fail_after(15), pytest.raises(error) as caught:
        async with manager.session(port):
            pass
    assert getattr(caught.value, "port", None) == port
    assert port in str(caught.value)
    assert (await manager.stats()).active == before.active
    assert manager.board(port) is None
    return caught.value


async def test_ports_that_are_not_boards_leave_the_manager_and_other_sessions_alone(
    tmp_path: Path, held_by_another_process: str, pty_path: str
) -> None:
    regular = tmp_path / "not-a-tty"
    regular.write_bytes(b"raw REPL; CTRL-B to exit\r\n>")
    options = SessionOptions(max_concurrent_sessions=2, sync_timeout=1.0)
    async with DeviceSessionManager(options) as manager, manager.session("unix") as bystander:
        await bystander.exec("kept = 7")
        assert "directory" in str(await _refused(manager, str(tmp_path), PortNotFoundError))
        await _refused(manager, str(regular), PortNotFoundError)
        await _refused(manager, str(tmp_path / "missing"), PortNotFoundError)
        await _refused(manager, held_by_another_process, PortBusyError)
        for _ in range(3):  # failures take no slot: the limit of 2 would show it
            await _refused(manager, str(tmp_path), PortNotFoundError)
        assert await bystander.eval("kept") == 7
        async with manager.session("unix") as second:
            assert await second.eval("1 + 1") == 2


async def test_a_silent_port_fails_within_the_sync_timeout_through_the_manager(pty_path: str) -> None:
    async with DeviceSessionManager(SessionOptions(sync_timeout=1.0)) as manager:
        error = await _refused(manager, pty_path, NotMicroPythonError)
        assert "sent nothing" in str(error)
