"""A virtual board served on a pty by ``belay virtual-board`` in a process of its own, so it
outlives each connection (as a board on a desk does), for the tests of every folder."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
import tty
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from belay.transports.process import end_process

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
        status = end_process(server, grace=20)
    if ends_cleanly:
        assert status == 0, f"belay virtual-board exited with {server.returncode} when told to end"


def mpremote_exec(path: str, code: str) -> tuple[int, str]:
    """``mpremote connect PATH resume exec CODE``: its exit status and what it printed."""
    result = subprocess.run(
        [MPREMOTE, "connect", path, "resume", "exec", code],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    return result.returncode, result.stdout.strip()


def answer_to_return(path: str, *, within: float = 1.0) -> bytes:
    """What a plain serial client (a terminal, ``screen``) sees within ``within`` s of pressing
    Enter on ``path``: ``b"\\r\\n>>> "`` from a board at its friendly REPL, nothing from one left
    in raw mode."""
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
    try:
        tty.setraw(fd)
        os.write(fd, b"\r")
        return _read_until(fd, b">>> ", within)
    finally:
        os.close(fd)


def _read_until(fd: int, wanted: bytes, within: float) -> bytes:
    got, end = b"", time.monotonic() + within
    while wanted not in got and (left := end - time.monotonic()) > 0:
        if select.select([fd], [], [], left)[0]:
            got += os.read(fd, 4096)
    return got


def mpremote_repl_answer(path: str, *, within: float = 10.0) -> bytes:
    """What ``mpremote connect PATH repl``, run on a terminal of its own, shows once Enter is
    pressed in it (again each second: a key pressed before mpremote has set up its terminal
    is flushed); it is then left with Ctrl-] (and killed by its pid if it lingers)."""
    master, slave = pty.openpty()
    process = subprocess.Popen([MPREMOTE, "connect", path, "repl"], stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    try:
        shown = _read_until(master, b"Ctrl-]", within)
        for _ in range(int(within)):
            os.write(master, b"\r")
            shown += _read_until(master, b">>> ", 1.0)
            if b">>> " in shown:
                break
        os.write(master, b"\x1d")
        process.wait(timeout=within)
        return shown
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(master)
