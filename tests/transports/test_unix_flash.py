"""The unix board's filesystem folders: one left by a killed host is swept at the next start."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from belay.transports.unix_board import UnixBoard

pytestmark = pytest.mark.anyio

HOST = textwrap.dedent(
    """
    import anyio
    from belay.transports.unix_board import UnixBoard

    async def main():
        board = await UnixBoard.start()
        print(board.filesystem, flush=True)
        await anyio.sleep(60)

    anyio.run(main)
    """
)


def folder_of_a_killed_host(signum: int = signal.SIGKILL) -> str:
    """Start a host that starts a unix board, end it by ``signum``: the folder it had."""
    host = subprocess.Popen([sys.executable, "-c", HOST], stdout=subprocess.PIPE, text=True)
    try:
        assert host.stdout is not None
        left = host.stdout.readline().strip()
        assert os.path.isdir(left)
    finally:
        os.kill(host.pid, signum)  # SIGKILL: no cleanup of any kind runs in the host
        assert host.wait(timeout=10) == -signum
        if host.stdout is not None:
            host.stdout.close()
    return left


async def test_a_folder_left_by_a_killed_host_is_swept_at_the_next_start() -> None:
    left = folder_of_a_killed_host()
    assert os.path.isdir(left)  # left behind
    board = await UnixBoard.start()
    try:
        assert not os.path.exists(left)
        assert os.path.isdir(board.filesystem)  # this host's own folder is kept
    finally:
        await board.aclose()
    assert not os.path.exists(board.filesystem)


def test_a_host_ended_by_sigterm_removes_its_folder() -> None:
    assert not os.path.exists(folder_of_a_killed_host(signal.SIGTERM))
