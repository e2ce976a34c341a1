"""What a board prints as it boots: the firmware's banner and friendly prompt, boot noise before.

A hard reset (a reset button, ``machine.reset()``, a watchdog, a brown-out) prints no
``soft reboot`` line: the board comes back at its friendly REPL after whatever its ROM and
firmware print, and the last of that is always the banner then the prompt::

    MicroPython v1.22.0 on 2024-01-05; ESP32 module with ESP32\\r\\n
    Type "help()" for more information.\\r\\n
    >>>

(the unix port says ``Use Ctrl-D to exit, Ctrl-E for paste mode`` on its second line).
:class:`BootWatch` finds that in bytes fed in any pieces, with a bounded memory, and keeps an
excerpt of what came with it (the noise before the banner) for the error that reports it.
"""

from __future__ import annotations

import re

FIRMWARE_BANNER = re.compile(
    rb"MicroPython [^\r\n ]{1,60} on [^\r\n;]{1,40}; [^\r\n]{1,120}\r?\n(?:[^\r\n]{0,120}\r?\n)?>>> "
)
"""The firmware's banner line, at most one line more (its help hint), then the friendly prompt."""

FRIENDLY_PROMPT = re.compile(rb"\n>>> ")
"""The friendly REPL's prompt at a line's start: never printed by the raw REPL."""

BOOT_TAIL = 384
"""Bytes kept from one piece of input to the next: a banner and its prompt split across pieces."""

EXCERPT = 160
"""Bytes at most of what came before and with a banner that a reboot report quotes."""


class BootWatch:
    """Finds a board's boot banner (or, with ``prompt``, a bare friendly prompt) in a stream
    fed in any pieces."""

    def __init__(self) -> None:
        self._tail = bytearray()

    def clear(self) -> None:
        self._tail.clear()

    def feed(self, data: bytes | bytearray, *, prompt: bool = False) -> tuple[bytes, int] | None:
        """Take ``data`` in; if the board booted, what was seen (bounded, up to its prompt) and
        where in ``data`` the prompt ends (what follows is the rebooted board's)."""
        kept = len(self._tail)
        seen = self._tail + data
        match = FIRMWARE_BANNER.search(seen) or (FRIENDLY_PROMPT.search(seen) if prompt else None)
        if match is None:
            del seen[: max(0, len(seen) - BOOT_TAIL)]
            self._tail = seen
            return None
        self._tail.clear()
        return bytes(seen[max(0, match.end() - EXCERPT) : match.end()]), match.end() - kept
