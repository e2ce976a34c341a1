"""Who holds a serial port open, where the system can tell (Linux's ``/proc/<pid>/fd``).

Used only on the way to a :class:`~belay.errors.PortBusyError`, to say "this process" or name
the other one (``picocom (pid 4242)``) instead of guessing.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path

logger = logging.getLogger(__name__)

PROC = Path("/proc")
MAX_PROCESSES = 4096
"""Processes looked at at most (the scan runs once, on an error path)."""


def holders(port: str, proc: Path = PROC) -> list[int]:
    """The ids of processes with ``port`` open, as far as ``proc`` shows (others' processes
    may be hidden from this user: then fewer, or none)."""
    try:
        target = os.stat(port)
    except OSError:
        return []
    found: list[int] = []
    with contextlib.suppress(OSError):
        for count, entry in enumerate(proc.iterdir()):
            if count >= MAX_PROCESSES:
                break
            if entry.name.isdigit() and _holds(entry / "fd", (target.st_dev, target.st_ino)):
                found.append(int(entry.name))
    return found


def _holds(fds: Path, identity: tuple[int, int]) -> bool:
    with contextlib.suppress(OSError):
        for fd in fds.iterdir():
            with contextlib.suppress(OSError):
                info = fd.stat()
                if (info.st_dev, info.st_ino) == identity:
                    return True
    return False


def process_name(pid: int, proc: Path = PROC) -> str:
    """``name (pid N)`` from ``/proc/N/comm``, or ``pid N``."""
    try:
        name = (proc / str(pid) / "comm").read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return f"pid {pid}"
    return f"{name} (pid {pid})" if name else f"pid {pid}"


def busy_message(port: str, own_pid: int | None = None, proc: Path = PROC) -> str:
    """Why ``port`` is busy, in words: this process, the named other ones, or "another process"."""
    me = os.getpid() if own_pid is None else own_pid
    pids = holders(port, proc)
    logger.debug("holders of %s: %s", port, pids)
    others = [process_name(pid, proc) for pid in pids if pid != me]
    if me in pids and not others:
        return "this process has it open already (a second connection to the same board?)"
    if others:
        also = " and this process" if me in pids else ""
        return f"{', '.join(others)}{also} {'has' if len(others) == 1 and not also else 'have'} it open"
    return "another process has it open"
