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
from typing import Any, NamedTuple

import anyio

from belay.transports import unix_locks

logger = logging.getLogger(__name__)

_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """Ask the kernel to SIGKILL this child when the process that started it dies."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _pty_child_setup() -> None:  # pragma: no cover - runs in the child
    """The interpreter starts with SIGINT ignored, as a board starts with no handler: the
    PyPI unix port runs inside CPython, whose own SIGINT handler would otherwise catch an
    interrupt sent before any code ran and end the process with ``KeyboardInterrupt`` at its
    next exit. MicroPython installs its handler while it runs code, whatever was inherited."""
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def open_raw_pty() -> tuple[int, int]:
    """A pty pair whose slave passes every byte through: no echo, no line editing, no CR/LF
    mapping, and no signals from bytes (ISIG off).

    Without ISIG a Ctrl-C byte never kills the program: MicroPython's unix port leaves SIGINT
    at its default action between calls, so a Ctrl-C landing just as a call ends would end
    the interpreter. :func:`interrupt_if_caught` delivers interrupts instead.
    """
    master, slave = pty.openpty()
    tty.setraw(slave)
    return master, slave


STOP_TIMEOUT = 0.5
"""How long an interrupt waits for the interpreter to stop before it checks its handler."""
LOCK_WAIT = 0.5
"""How long an interrupt waits for the interpreter to be outside its locks (then it is sent)."""
LOCK_RETRY = 0.0005


_STOPPING = (signal.SIGSTOP, signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU)


class _Status(NamedTuple):
    state: str
    """The scheduler state letter (``T``: stopped)."""
    catches_sigint: bool
    stop_pending: bool
    """A stop signal was sent and not taken yet: the state letter changes only once it is."""


def _has(mask: int, signum: int) -> bool:
    return bool(mask >> (signum - 1) & 1)


def _proc_status(pid: int) -> _Status | None:
    """``pid``'s state, whether it catches SIGINT and whether a stop is pending, from ``/proc``."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            state = stat.read().rsplit(")", 1)[1].split()[0]
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
            fields = {key: value for key, _, value in (line.partition(":") for line in status)}
        masks = {key: int(fields[key].strip(), 16) for key in ("SigPnd", "ShdPnd", "SigCgt")}
    except (OSError, ValueError, IndexError, KeyError):
        return None
    pending = masks["SigPnd"] | masks["ShdPnd"]
    stop_pending = any(_has(pending, signum) for signum in _STOPPING)
    return _Status(state, _has(masks["SigCgt"], signal.SIGINT), stop_pending)


def signal_main_thread(pid: int, signum: int) -> None:
    """Send ``signum`` to the main thread of process ``pid`` only (``tgkill``), as a board's
    UART delivers Ctrl-C to the REPL's thread.

    A signal sent to a whole process goes to whichever of its threads the kernel picks; to
    one stopped by :func:`interrupt_if_caught` it stays pending for the process, and the
    first thread to run after ``SIGCONT`` takes it. MicroPython's unix port raises
    ``KeyboardInterrupt`` in the thread that ran its handler, so a session's background
    thread died of an interrupt meant for a call. The main thread's id is the process id.
    Falls back to ``kill`` where libc has no ``tgkill``.
    """
    tgkill = getattr(ctypes.CDLL(None, use_errno=True), "tgkill", None)
    if tgkill is None:  # pragma: no cover - glibc before 2.30, musl
        os.kill(pid, signum)
        return
    if tgkill(pid, pid, signum) != 0:
        error = ctypes.get_errno()
        raise ProcessLookupError(error, os.strerror(error))


async def interrupt_if_caught(pid: int, locks: tuple[int, ...] = ()) -> bool:
    """Ctrl-C as a board's UART gives it: SIGINT to ``pid`` only while it catches SIGINT.

    MicroPython's unix port installs its handler only while it runs code. The check and the
    signal are made while the process is stopped (SIGSTOP), so it cannot drop its handler in
    between; it is always continued. A process that catches no SIGINT (at its prompt) is
    left alone, as is one stopped by someone else (a debugger, a SIGSTOP sent and not yet
    taken); only a stop sent by another at the very moment of an interrupt of running code
    can be undone by its SIGCONT. Without ``/proc`` the signal is sent as a tty would.

    ``locks``: the addresses of the interpreter's locks (:mod:`belay.transports.unix_locks`).
    While one is taken (looked at as it runs, then again once stopped) the process is left to
    run and looked at again a moment later, for up to ``LOCK_WAIT`` seconds: the port's handler
    jumps out of wherever it lands, and out of a lock it leaves the heap locked or the other
    threads blocked for good.
    """
    before = _proc_status(pid)
    if before is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGINT)
        return True
    if before.state in "TtZX" or before.stop_pending:  # stopped by someone else, or gone: not ours to wake
        return False
    if not before.catches_sigint:  # if it starts catching an instant later, the link asks again
        return False
    with anyio.CancelScope(shield=True):
        sent = await _interrupt_outside_locks(pid, locks)
    return sent


async def _interrupt_outside_locks(pid: int, locks: tuple[int, ...]) -> bool:
    give_up = anyio.current_time() + LOCK_WAIT
    while True:
        anyway = anyio.current_time() >= give_up
        # Looked at running first, so as not to stop it inside a collection without need: a
        # stop there can cut the collector's wait for the other threads' scans short (EINTR).
        if anyway or not unix_locks.in_a_lock(pid, locks):
            sent = await _interrupt_stopped(pid, locks, anyway)
            if sent is not None:
                return sent
        await anyio.sleep(LOCK_RETRY)  # a lock is seen only in the process's memory


async def _interrupt_stopped(pid: int, locks: tuple[int, ...], anyway: bool) -> bool | None:
    """Stop ``pid``; SIGINT its main thread if it catches SIGINT and holds none of ``locks``
    (or ``anyway``); continue it. ``None``: it was inside a lock, nothing sent."""
    try:
        os.kill(pid, signal.SIGSTOP)
        status = await _stopped(pid)
        if status is None or not status.catches_sigint:
            return False
        if not anyway and unix_locks.in_a_lock(pid, locks):
            return None
        signal_main_thread(pid, signal.SIGINT)
        return True
    except ProcessLookupError:
        return False
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)


async def _stopped(pid: int) -> _Status | None:
    """``pid``'s status once it has stopped (or after ``STOP_TIMEOUT``; ``None`` if gone)."""
    with anyio.move_on_after(STOP_TIMEOUT):
        while (status := _proc_status(pid)) is not None and status.state not in "TtZX":  # noqa: ASYNC110
            await anyio.sleep(0.0002)  # a stop is seen only in /proc: nothing to wait on
    return _proc_status(pid)


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


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` is alive (one of another user counts: it cannot be signalled)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


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


def end_process(process: subprocess.Popen[Any], grace: float = 5.0) -> int | None:
    """Terminate ``process`` by its pid, kill it if it lingers past ``grace`` seconds, reap it
    and close its pipes; its exit status (``None`` if even SIGKILL left it running). Safe to
    call twice."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=5)
    for pipe in (process.stdin, process.stdout, process.stderr):
        if pipe is not None:
            pipe.close()
    return process.returncode


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
