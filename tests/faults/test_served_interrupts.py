"""Transfers to the served fast unix board (``belay virtual-board --kind unix``) cut short at
seeded random points, by a cancel and by a SIGINT of the host: the board's interpreter never
restarts unseen (here: never restarts at all, and no call fails for it), and no partial
``.part`` file is left behind.

The cause these guard: a Ctrl-C mid raw-paste ends the paste on the board, and the host then
still sent the paste's closing Ctrl-D (or acknowledged the board's), which reached the empty raw
prompt and soft-reset the board.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from virtual_boards import served_virtual_board

from belay import DeviceSessionManager, SessionOptions

pytestmark = pytest.mark.anyio

TRIALS = 30
PAYLOAD = 256 * 1024


@pytest.fixture
def served() -> Iterator[str]:
    with served_virtual_board("unix") as path:
        yield path


MARK = "_resets_mark_"
"""A REPL global set before the trials: a board that restarted has lost it."""


async def mark(path: str) -> None:
    async with DeviceSessionManager() as manager, manager.session(path):
        board = manager.board(path)
        assert board is not None
        await board.device.exec(f"{MARK} = 1")


async def still_marked(manager: DeviceSessionManager, path: str) -> bool:
    board = manager.board(path)
    assert board is not None
    return bool(await board.device.eval(f"'{MARK}' in globals()"))


async def part_files(manager: DeviceSessionManager, path: str) -> list[str]:
    async with manager.session(path) as session:
        names = await session.eval("[n for n in __import__('os').listdir() if n.endswith('.part')]")
    assert isinstance(names, list)
    return names


async def test_cancelled_puts_never_restart_the_served_board(served: str) -> None:
    rng = random.Random(2024)
    data = os.urandom(PAYLOAD)
    await mark(served)
    async with DeviceSessionManager(SessionOptions(call_timeout=60)) as manager:
        for _ in range(TRIALS):
            with anyio.fail_after(30):
                async with manager.session(served) as session:
                    with anyio.move_on_after(rng.uniform(0.005, 0.3)):
                        await session.fs.put(data, "big.bin")
        board = manager.board(served)
        assert board is not None
        assert board.device.reboots == 0
        assert await part_files(manager, served) == []
        assert await still_marked(manager, served)


def put_and_sigint(path: str, local: Path, delay: float) -> int:
    """``belay fs cp LOCAL :big.bin`` on ``path``, SIGINT after ``delay`` s: its exit status."""
    command = [sys.executable, "-m", "belay", "fs", "cp", "--port", path, str(local), ":big.bin"]
    host = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        time.sleep(delay)
        host.send_signal(signal.SIGINT)
        host.wait(timeout=30)
    finally:
        if host.poll() is None:
            host.kill()
            host.wait(timeout=5)
        if host.stderr is not None:
            host.stderr.close()
    return host.returncode


def sigint_trials(path: str, local: Path) -> None:
    rng = random.Random(7)
    for _ in range(TRIALS):
        put_and_sigint(path, local, rng.uniform(0.2, 0.9))


async def test_host_sigints_mid_put_never_restart_the_served_board(served: str, tmp_path: Path) -> None:
    local = tmp_path / "big.bin"
    local.write_bytes(os.urandom(PAYLOAD))
    await mark(served)
    await anyio.to_thread.run_sync(sigint_trials, served, local)
    async with DeviceSessionManager(SessionOptions(call_timeout=60)) as manager:
        assert await part_files(manager, served) == []
        assert await still_marked(manager, served)
