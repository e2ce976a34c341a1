"""A virtual board served on a pty by ``belay virtual-board`` in a process of its own, so it
outlives each connection (as a board on a desk does), for the tests of every folder."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

MPREMOTE = str(Path(sys.executable).with_name("mpremote"))


@contextmanager
def served_virtual_board(kind: str = "unix", *options: str, ends_cleanly: bool = False) -> Iterator[str]:
    """The served board's pty path (``options``: more of ``belay virtual-board``'s, such as
    ``--baud``); the process is ended by its pid with the block (killed if it lingers past
    20 s). ``ends_cleanly``: also assert that it exits with status 0 when told to."""
    command = [sys.executable, "-m", "belay", "virtual-board", "--kind", kind, *options]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    status: int | None = None
    try:
        assert server.stdout is not None
        yield server.stdout.readline().strip()
    finally:
        server.terminate()
        try:
            status = server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=5)
        if server.stdout is not None:
            server.stdout.close()
    if ends_cleanly:
        assert status == 0, f"belay virtual-board exited with {server.returncode} when told to end"


def mpremote_exec(path: str, code: str) -> tuple[int, str]:
    """``mpremote connect PATH resume exec CODE``: its exit status and what it printed."""
    result = subprocess.run(
        [MPREMOTE, "connect", path, "resume", "exec", code],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    return result.returncode, result.stdout.strip()
