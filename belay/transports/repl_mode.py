"""Which REPL a MicroPython interpreter is at, followed from what it prints, and what a board
prints as it soft-reboots from there.

A board in raw mode stays in raw mode across a soft reboot; one at the friendly REPL comes
back to it with its banner. A process that restarts instead (the unix port) must say so as
a board does, so the reboot text is made here from the mode the interpreter was in.
"""

from __future__ import annotations

RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n>"
"""What the raw REPL prints as it is entered (and after each reset of it)."""
SOFT_REBOOT = b"MPY: soft reboot\r\n"
"""What a board prints as it soft-reboots (MicroPython 1.10 on; ``soft reboot`` before)."""


class ReplMode:
    """Follows an interpreter's output: the raw REPL's banner means raw mode, the friendly
    banner (``friendly_banner``: what the interpreter prints at start, and on Ctrl-B) means
    the friendly REPL. Code that prints either banner itself misleads it, as it would mislead
    a terminal."""

    def __init__(self, friendly_banner: bytes) -> None:
        self.raw = False
        self.friendly_banner = friendly_banner
        self._markers = (RAW_BANNER[:-1], friendly_banner.removesuffix(b">>> ") or b">>> ")
        self._tail = b""

    def seen(self, data: bytes) -> None:
        """Take in what the interpreter printed."""
        window = self._tail + data
        raw_at, friendly_at = (window.rfind(marker) for marker in self._markers)
        if raw_at != friendly_at:  # both -1 when neither is there
            self.raw = raw_at > friendly_at
        self._tail = window[-max(len(marker) for marker in self._markers) + 1 :]

    def reboot_text(self) -> bytes:
        """What a board in this mode prints as it soft-reboots, up to its next prompt."""
        return SOFT_REBOOT + (RAW_BANNER if self.raw else self.friendly_banner)
