"""The floor under ``belay exec -p unix "print(1)"``: the least an anyio program can do for the same
result. A fresh unix-port MicroPython on a pty, its ``>>>`` prompt awaited, the raw REPL
entered, ``print(1)`` run, the output printed, the process killed. No belay import, no agent,
no session: what is left of belay's start-up above this is belay's own.

    python benchmarks/startup_floor.py      (run by bench_startup.py as a contender)
"""

from __future__ import annotations

import os
import pty
import shutil
import signal
import subprocess
import sys
import sysconfig
import tty

import anyio


async def read_until(fd: int, ending: bytes, seen: bytearray) -> bytes:
    """What ``fd`` says up to and including ``ending``."""
    while ending not in seen:
        await anyio.wait_readable(fd)
        seen += os.read(fd, 4096)
    head, _, tail = bytes(seen).partition(ending)
    seen[:] = tail
    return head + ending


async def main() -> None:
    micropython = shutil.which("micropython", path=sysconfig.get_path("scripts")) or "micropython"
    master, slave = pty.openpty()
    tty.setraw(slave)  # no echo, no line editing: bytes pass as they are
    os.set_blocking(master, False)
    board = subprocess.Popen(  # noqa: ASYNC220 - spawning is part of what the floor measures
        [micropython], stdin=slave, stdout=slave, stderr=slave, start_new_session=True
    )
    os.close(slave)
    seen = bytearray()
    try:
        await read_until(master, b">>> ", seen)
        os.write(master, b"\x01")
        await read_until(master, b"to exit\r\n>", seen)
        os.write(master, b"print(1)\x04")
        answer = await read_until(master, b"\x04>", seen)
        sys.stdout.write(answer.removeprefix(b"OK").split(b"\x04")[0].decode().replace("\r\n", "\n"))
    finally:
        os.killpg(board.pid, signal.SIGKILL)
        board.wait()
        os.close(master)


if __name__ == "__main__":
    anyio.run(main)
