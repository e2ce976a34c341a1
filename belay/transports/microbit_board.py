"""The ``microbit`` virtual board: the real BBC micro:bit MicroPython firmware in QEMU.

QEMU emulates the board and serves its UART on a pty it opens; this transport starts QEMU,
opens that pty like any serial port, and ends QEMU's process group on close. A reboot
(``machine.reset()``) happens inside QEMU and keeps the pty.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess

import anyio

from belay.errors import ConnectionLostError, PortNotFoundError, TransportError
from belay.transports.base import Pacing, Transport
from belay.transports.fd_stream import FdStream
from belay.transports.process import kill_process_group, spawn_piped, wait_exit
from belay.transports.serial import SerialTransport

logger = logging.getLogger(__name__)

DEFAULT_FIRMWARE = "/usr/share/firmware-microbit-micropython/firmware.hex"
UART_PACING = Pacing(chunk_size=32, delay=0.01)
"""The emulated nRF51 drops input beyond ~32 bytes per 10 ms once its heap is fragmented."""
WEDGED_AFTER = 8.0
"""Seconds of silence after an interrupt that mean the firmware waits on a peripheral QEMU does
not model (``microbit.temperature()`` waits for the TEMP sensor for ever, deaf to ctrl-C): QEMU
is restarted, as the board's reset button would, and the restart reported as a reboot."""

WEDGE_CHECK = 0.5
"""Seconds between two looks at whether the board answered an interrupt."""

_PTY_LINE = re.compile(rb"char device redirected to (\S+)")
INSTALL_HINT = (
    "the microbit virtual board needs qemu-system-arm and the firmware "
    f"{DEFAULT_FIRMWARE}: install the Debian packages qemu-system-arm and "
    "firmware-microbit-micropython (or set BELAY_QEMU / BELAY_MICROBIT_FIRMWARE)"
)


def find_qemu_and_firmware(environ: dict[str, str] | None = None) -> tuple[str, str]:
    env = os.environ if environ is None else environ
    qemu = shutil.which(env.get("BELAY_QEMU") or "qemu-system-arm")
    firmware = env.get("BELAY_MICROBIT_FIRMWARE") or DEFAULT_FIRMWARE
    if not qemu or not os.path.isfile(firmware):
        raise PortNotFoundError(INSTALL_HINT, port="microbit")
    return qemu, firmware


def qemu_command(qemu: str, firmware: str) -> list[str]:
    return [
        qemu, "-M", "microbit", "-device", f"loader,file={firmware}",
        "-nographic", "-serial", "pty", "-monitor", "none",
    ]  # fmt: skip


class MicrobitBoard(Transport):
    """QEMU running the micro:bit firmware, reached through the pty QEMU opened."""

    def __init__(self, process: subprocess.Popen[bytes], serial_port: SerialTransport) -> None:
        self.port = "microbit"
        self.pacing = UART_PACING
        self.tty_path = serial_port.port
        self._process = process
        self._serial = serial_port
        self._interrupted_at: float | None = None
        """When an interrupt went out that the board has not answered yet."""
        self._restarting = False
        """QEMU is being restarted: what is sent meanwhile is lost, as a resetting board's input."""

    @classmethod
    async def start(cls, *, startup_timeout: float = 10.0) -> MicrobitBoard:
        qemu, firmware = find_qemu_and_firmware()
        try:
            process = spawn_piped(qemu_command(qemu, firmware))
        except OSError as error:
            raise TransportError(f"cannot start {qemu}: {error}", port="microbit") from error
        try:
            path = await _read_pty_path(process, startup_timeout)
            serial_port = await SerialTransport.open(path, paced=False)
        except BaseException:
            kill_process_group(process)
            raise
        logger.debug("microbit board started: pid %d on %s", process.pid, path)
        return cls(process, serial_port)

    @property
    def pid(self) -> int:
        return self._process.pid

    async def send(self, data: bytes) -> None:
        if b"\x03" in data and self._interrupted_at is None:
            self._interrupted_at = anyio.current_time()
        try:
            if not self._restarting:
                await self._serial.send(data)
        except ConnectionLostError as error:
            if not self._restarting:
                raise await self._lost(error) from error

    async def receive(self, max_bytes: int = 65536) -> bytes:
        """What the board sent; a board silent for ``WEDGED_AFTER`` s after an interrupt is
        restarted (checked every ``WEDGE_CHECK`` s: the interrupt may go out while this waits)."""
        while True:
            if self._wedged():
                await self._restart()
            try:
                data = self._serial.receive_nowait(max_bytes)
                if not data:
                    with anyio.move_on_after(WEDGE_CHECK):
                        data = await self._serial.receive(max_bytes)
            except ConnectionLostError as error:
                raise await self._lost(error) from error
            if data:
                self._interrupted_at = None
                return data

    def _wedged(self) -> bool:
        started = self._interrupted_at
        return started is not None and anyio.current_time() - started >= WEDGED_AFTER

    async def _restart(self) -> None:
        """Restart QEMU (the board's reset button) and report it as a reboot."""
        logger.warning(
            "the microbit board answered no interrupt for %gs (a peripheral QEMU does not model, "
            "such as the temperature sensor?): restarting it", WEDGED_AFTER,
        )  # fmt: skip
        self._restarting = True
        try:
            with anyio.CancelScope(shield=True):
                await self._serial.aclose()
                kill_process_group(self._process)
                fresh = await MicrobitBoard.start()
            self._process, self._serial, self.tty_path = fresh._process, fresh._serial, fresh.tty_path
        finally:
            self._restarting = False
        self._interrupted_at = None
        raise ConnectionLostError(
            f"the microbit board was restarted: it answered no interrupt for {WEDGED_AFTER:g}s",
            port=self.port, rebooted=True,
        )  # fmt: skip

    async def _lost(self, error: ConnectionLostError) -> ConnectionLostError:
        """The board's loss, named by this board's port and by how QEMU ended."""
        status = await wait_exit(self._process, timeout=0.5)
        if status is None:
            how = "is still running"
        elif status < 0:
            how = f"was killed by signal {-status}"
        else:
            how = f"exited with status {status}"
        return ConnectionLostError(
            f"lost the microbit board ({self.tty_path}): QEMU {how}; {error}", port=self.port
        )

    def receive_nowait(self, max_bytes: int = 65536) -> bytes:
        return self._serial.receive_nowait(max_bytes)

    async def aclose(self) -> None:
        await self._serial.aclose()
        kill_process_group(self._process)


async def _read_pty_path(process: subprocess.Popen[bytes], timeout: float) -> str:
    """The pty QEMU announces on its output ("char device redirected to /dev/pts/N")."""
    assert process.stdout is not None
    stream = FdStream(process.stdout.fileno(), "microbit")
    seen = bytearray()
    try:
        with anyio.fail_after(timeout):
            while (match := _PTY_LINE.search(seen)) is None:
                seen += await stream.read(4096)
    except (TimeoutError, OSError, ConnectionLostError) as error:
        raise TransportError(
            f"qemu-system-arm announced no pty within {timeout}s; it printed {bytes(seen)[-300:]!r}",
            port="microbit",
        ) from error
    finally:
        stream.close()
    return match.group(1).decode()
