"""What the raw-REPL state machine reports, one event per thing the board said."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Ready:
    """The board is at the raw-REPL prompt and accepts a call."""


@dataclass(frozen=True, slots=True)
class Output:
    """Standard output of the call in flight, as it arrives."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Unsolicited:
    """Bytes the board sent while no call was in flight (background code printing)."""

    data: bytes


@dataclass(frozen=True, slots=True)
class CallComplete:
    """The call in flight finished; ``error`` holds what it wrote to stderr (empty on success)."""

    error: bytes
    error_truncated: bool = False


@dataclass(frozen=True, slots=True)
class RawPasteRefused:
    """The board cannot do raw-paste; the call goes on in plain raw mode."""


@dataclass(frozen=True, slots=True)
class Rebooted:
    """The board rebooted: whatever it held in RAM is gone, and a call in flight ended with it.

    A soft reboot (``MPY: soft reboot``; ``seen`` is empty) comes back to the raw prompt by
    itself, and the machine awaits its banner. A hard reset (a reset button, a watchdog, a
    brown-out) is told by the firmware's banner and friendly prompt (``seen`` quotes them and
    the boot noise before, bounded): the board is at its friendly REPL, and only a
    :meth:`~belay.protocol.RawRepl.sync` brings it back to the raw one."""

    seen: bytes = b""


Event = Ready | Output | Unsolicited | CallComplete | RawPasteRefused | Rebooted
