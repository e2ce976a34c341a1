"""A virtual board served on a pty by ``belay virtual-board`` in a process of its own, so it
outlives each connection (as a board on a desk does), for the tests of every folder."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def served_virtual_board(kind: str = "unix") -> Iterator[str]:
    """The served board's pty path; the process is ended by its pid with the block (killed if
    it lingers past 20 s)."""
    command = [sys.executable, "-m", "belay", "virtual-board", "--kind", kind]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        yield server.stdout.readline().strip()
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=5)
        if server.stdout is not None:
            server.stdout.close()
