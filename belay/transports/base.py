"""What every transport offers the layers above: an async byte stream to one board."""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING

from anyio.abc import AsyncResource

if TYPE_CHECKING:
    from belay.options import SessionOptions


@dataclass(frozen=True, slots=True)
class Pacing:
    """How to write a long plain-raw-mode call to a board whose UART buffer is small."""

    chunk_size: int
    delay: float


@dataclass(frozen=True, slots=True)
class ModemLines:
    """The levels a serial port holds DTR and RTS at while open (``True``: asserted).

    Both asserted is what a port does on opening anyway, what USB CDC boards take for "a host
    is there", and the idle state of the ESP8266/ESP32 auto-reset circuit, so the default
    resets nothing (mpremote settled on the same). ``dtr=False, rts=True`` holds an ESP board
    in reset; ``dtr=True, rts=False`` selects its bootloader at the next reset.
    """

    dtr: bool = True
    rts: bool = True


DEFAULT_LINES = ModemLines()
"""Both asserted: what opening a port does anyway."""


@dataclass(frozen=True, slots=True)
class LabOptions:
    """How a ``labgrid:`` port opens: the coordinator (``None``: labgrid's ``$LG_COORDINATOR``),
    the seconds to wait for a place, and whether to share a place acquired by hand."""

    coordinator: str | None = None
    wait: float = 0.0
    share: bool = False

    @classmethod
    def of(cls, options: SessionOptions) -> LabOptions:
        """The ``lab_*`` fields of ``options``."""
        return cls(options.lab_coordinator, options.lab_wait, options.lab_share)


DEFAULT_LAB = LabOptions()


class Transport(AsyncResource):
    """An open byte stream to one board (``async with`` closes it).

    ``receive`` raises :class:`~belay.errors.ConnectionLostError` when the board goes away;
    ``aclose`` releases everything the transport opened or started, and may be called twice.
    A transport that restarts a board itself may raise it with ``rebooted=True`` instead,
    once per restart; a board that says it rebooted (``soft reboot``) needs no such help.
    """

    port: str
    pacing: Pacing | None = None
    """Set where plain raw mode must write slowly (a real UART without raw-paste)."""

    @abstractmethod
    async def send(self, data: bytes) -> None:
        """Write all of ``data``."""

    @abstractmethod
    async def receive(self, max_bytes: int = 65536) -> bytes:
        """Wait for and return at least one byte."""

    async def drain(self) -> None:
        """Wait until what was sent has left for the board (a UART's ``tcdrain``); a transport
        that hands bytes over at once has nothing to wait for."""

    @abstractmethod
    def receive_nowait(self, max_bytes: int = 65536) -> bytes:
        """Return what has already arrived, possibly nothing, without waiting."""

    @abstractmethod
    async def aclose(self) -> None:
        """Close the stream and end whatever the transport started."""

    def hung_up(self) -> bool:
        """Whether the port is known to be gone already (a USB board unplugged), told without
        reading; ``False`` where the transport cannot tell."""
        return False

    @property
    def generation(self) -> int:
        """Counts board restarts a transport performed itself (virtual boards)."""
        return 0
