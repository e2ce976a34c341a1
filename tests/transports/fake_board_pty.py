"""A scripted board on a pty, served by a thread: what real boards do as their port opens.

belay opens :attr:`FakeBoardPty.path` (a symlink to the pty, as ``/dev/ttyACM0`` stands for
a USB device). Each time the port is opened the board "resets": it prints ``boot`` (ESP32 ROM
noise, a custom banner) and drops what it is sent for ``deaf_for`` seconds; then it relays
both ways to ``upstream`` (a served virtual board's pty: a real MicroPython from then on) or,
without one, prints ``boot`` again every ``repeat`` seconds and never answers (a board that
never reaches a REPL). ``boot`` comes ``boot_after`` seconds after the port opens (a reset
takes a moment; pyserial discards what arrived before it opened). :meth:`vanish` closes the
pty and removes the path, as unplugging a USB board does; :meth:`come_back` makes a new pty
under the same path.
"""

from __future__ import annotations

import contextlib
import os
import select
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType

from virtual_boards import served_virtual_board

from belay.transports.pty_server import open_client_pty

ESP32_BOOT = (
    b"ets Jun  8 2016 00:22:57\r\n\r\nrst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n"
    b"configsip: 0, SPIWP:0xee\r\nclk_drv:0x00,q_drv:0x00,d_drv:0x00,cs0_drv:0x00,hd_drv:0x00\r\n"
    b"mode:DIO, clock div:2\r\nload:0x3fff0030,len:4540\r\nentry 0x40080400\r\n"
    b"MicroPython v1.22.0 on 2023-12-27; Generic ESP32 module with ESP32\r\n"
    b'Type "help()" for more information.\r\n>>> '
)
ESP32_DOWNLOAD_MODE = (
    b"ets Jun  8 2016 00:22:57\r\n\r\nrst:0x1 (POWERON_RESET),boot:0x3 "
    b"(DOWNLOAD_BOOT(UART0/UART1/SDIO_REI_REO_V2))\r\nwaiting for download\r\n"
)
SYNC = b"\r\x03\x03\x01"
"""What belay sends to reach the raw REPL."""


class FakeBoardPty:
    """The board; use it as a context manager (the thread and the pty end with the block)."""

    def __init__(
        self,
        path: Path,
        *,
        boot: bytes = b"",
        deaf_for: float = 0.0,
        upstream: str | None = None,
        repeat: float = 0.25,
        boot_after: float = 0.05,
    ) -> None:
        self.path = path
        self.boot, self.deaf_for, self.repeat, self.boot_after = boot, deaf_for, repeat, boot_after
        self.received = bytearray()
        """Everything the host sent, heard or not."""
        self.opens = 0
        self._upstream = (
            None if upstream is None else os.open(upstream, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        )
        self._lock = threading.Lock()
        self._master: int | None = None
        self._plugged = 0  # how many times it came back: a new pty (its fd number may be the old one's)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="fake-board", daemon=True)

    def __enter__(self) -> FakeBoardPty:
        self.come_back()
        self._thread.start()
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.vanish()
        if self._upstream is not None:
            os.close(self._upstream)

    def reset(self, noise: bytes) -> None:
        """Print ``noise`` now, as a board whose reset button was pressed prints its boot."""
        with self._lock:
            if self._master is not None:
                self._write(self._master, noise)

    def vanish(self) -> None:
        """Unplug: the pty closes under whoever has it open, and the path goes."""
        with self._lock:
            if self._master is not None:
                os.close(self._master)
                self._master = None
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def come_back(self) -> None:
        """Plug back in: a new pty under the same path."""
        master, slave, tty = open_client_pty()
        os.close(slave)  # the master sees a hang-up until the host opens the port
        os.set_blocking(master, False)
        with self._lock:
            self._master = master
            self._plugged += 1
        self.path.symlink_to(tty)

    def _serve(self) -> None:
        opened_at: float | None = None
        last_boot = 0.0
        serving = 0
        while not self._stop.is_set():
            with self._lock:
                master = self._master
                if serving != self._plugged:  # replugged while this thread was not looking
                    serving, opened_at = self._plugged, None
                if master is not None and self._hung_up(master):
                    master = opened_at = None
                if master is not None:
                    if opened_at is None:  # the port was just opened: the board resets
                        self.opens += 1
                        opened_at = last_boot = time.monotonic()
                        time.sleep(self.boot_after)  # after pyserial's flush of what came before
                        self._write(master, self.boot)
                    elif self._upstream is None and time.monotonic() - last_boot > self.repeat:
                        last_boot = time.monotonic()
                        self._write(master, self.boot)
            if master is None:
                opened_at = None
                self._drain_upstream()
                time.sleep(0.01)
                continue
            assert opened_at is not None
            with self._lock:  # vanish() waits for the select: the pty is closed when it returns
                if self._master == master:
                    self._relay(master, listening=time.monotonic() - opened_at >= self.deaf_for)

    def _relay(self, master: int, *, listening: bool) -> None:
        fds = [master] if self._upstream is None else [master, self._upstream]
        with contextlib.suppress(OSError, ValueError):
            readable, _, _ = select.select(fds, [], [], 0.02)
            for fd in readable:
                data = os.read(fd, 4096)
                if fd == master:
                    self.received += data
                    if listening and self._upstream is not None:
                        os.write(self._upstream, data)
                elif listening:
                    self._write(master, data)

    def _drain_upstream(self) -> None:
        """What the board behind says while nobody listens is lost, as on a UART."""
        if self._upstream is not None:
            with contextlib.suppress(OSError):
                while os.read(self._upstream, 4096):
                    pass

    @staticmethod
    def _hung_up(master: int) -> bool:
        poller = select.poll()
        poller.register(master, select.POLLIN)
        return any(mask & select.POLLHUP for _, mask in poller.poll(0))

    @staticmethod
    def _write(master: int, data: bytes) -> None:
        with contextlib.suppress(OSError):
            os.write(master, data)


@contextlib.contextmanager
def served_unix_board() -> Iterator[str]:
    """A unix virtual board served on a pty in a process of its own: the pty's path."""
    with served_virtual_board("unix") as path:
        yield path
