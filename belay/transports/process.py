"""Child processes behind the virtual boards: started in their own session, always ended."""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import logging
import os
import pty
import signal
import subprocess
import termios
import tty
from collections.abc import Sequence

import anyio

logger = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Ask the kernel to SIGKILL this child when the process that started it dies."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _pty_child_setup() -> None:  # pragma: no cover - runs in the child
    _die_with_parent()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def open_raw_pty() -> tuple[int, int]:
    """A pty pair whose slave passes bytes through: no echo, no line editing, no CR/LF mapping.

    Signals stay on (ISIG), so a Ctrl-C byte interrupts a program that restores the mode
    it found, as MicroPython's unix port does while it runs code.
    """
    master, slave = pty.openpty()
    tty.setraw(slave)
    attrs = termios.tcgetattr(slave)
    attrs[3] |= termios.ISIG
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    return master, slave


def spawn_on_pty(
    argv: Sequence[str], slave: int, env: dict[str, str] | None = None, cwd: str | None = None
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in a new session with ``slave`` as its controlling terminal."""
    return subprocess.Popen(
        list(argv),
        stdin=slave,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
        preexec_fn=_pty_child_setup,
        close_fds=True,
        env=env,
        cwd=cwd,
    )


def spawn_piped(argv: Sequence[str]) -> subprocess.Popen[bytes]:
    """Start ``argv`` in a new session, its output on a pipe, dying with this process."""
    return subprocess.Popen(
        list(argv),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
        preexec_fn=_die_with_parent,
        close_fds=True,
    )


def kill_process_group(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the child's whole process group and reap the child; safe to call twice."""
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(ProcessLookupError):
            process.kill()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:  # pragma: no cover - the kernel did not deliver SIGKILL
        logger.error("process %d did not die after SIGKILL", process.pid)
    if process.stdout is not None:
        process.stdout.close()


async def wait_exit(process: subprocess.Popen[bytes], timeout: float) -> int | None:
    """The child's exit status once it has exited, or ``None`` if it is still running."""
    if process.poll() is not None:
        return process.returncode
    try:
        pidfd = os.pidfd_open(process.pid)
    except (OSError, AttributeError):  # pragma: no cover - no pidfd: kernels before 5.3
        pidfd = None
    with anyio.move_on_after(timeout):
        if pidfd is not None:
            await anyio.wait_readable(pidfd)
        while process.poll() is None:  # noqa: ASYNC110  # pragma: no cover - no pidfd (macOS)
            await anyio.sleep(0.01)
    if pidfd is not None:
        os.close(pidfd)
    return process.poll()
