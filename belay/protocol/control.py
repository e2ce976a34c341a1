"""Control bytes of the raw REPL, and the code escaping that keeps them out of a call."""

from __future__ import annotations

import re

ENTER_RAW = b"\x01"
EXIT_RAW = b"\x02"
INTERRUPT = b"\x03"
EOT = b"\x04"
RAW_PASTE_REQUEST = b"\x05A\x01"
PASTE_ACCEPTED = b"R\x01"
PASTE_REFUSED = b"R\x00"
WINDOW_ACK = 0x01
PROMPT = b">"

SYNC = b"\r\x03\x03\x01"
"""Stop whatever runs, clear the line, (re-)enter raw mode: the board answers with the banner."""

BANNER = b"raw REPL; CTRL-B to exit"
_BANNER_RE = re.compile(re.escape(BANNER) + rb"\r?\n>")
_BANNER_FULL_LEN = len(BANNER) + 3
_PASTE_ANSWER_RE = re.compile(rb"R[\x00\x01]|" + _BANNER_RE.pattern)

_UNSAFE = re.compile(rb"[\x00-\x05]")
"""What the raw REPL acts on (ctrl-A to ctrl-E), and NUL, which the unix port reads as 0x01;
every other byte reaches the board's lexer as itself (checked for all 256 on both boards)."""


def escape_code(code: bytes) -> bytes:
    """Return code the raw REPL passes through unchanged.

    Code holding control bytes (which would end or reset the input) is sent as
    ``exec(b'...')`` with those bytes escaped; the board runs exactly the same source.
    Empty code becomes a blank line: a bare ctrl-D at the raw prompt would soft-reset the board.
    """
    if not code:
        return b"\n"
    if not _UNSAFE.search(code):
        return code
    return b"exec(" + repr(code).encode("ascii") + b")"


def find_banner(buffer: bytes | bytearray) -> tuple[int, int] | None:
    """Where the raw-REPL banner and its prompt stand in ``buffer``, if they do."""
    match = _BANNER_RE.search(buffer)
    return None if match is None else (match.start(), match.end())


def could_be_banner(buffer: bytes | bytearray) -> bool:
    """Whether ``buffer`` is the start of the banner (more bytes may complete it)."""
    full = BANNER + b"\r\n>"
    return len(buffer) < _BANNER_FULL_LEN and (
        full.startswith(buffer) or (BANNER + b"\n>").startswith(buffer)
    )


def banner_tail_keep(buffer: bytes | bytearray) -> int:
    """How many trailing bytes of ``buffer`` could begin a banner and must be kept."""
    start = max(0, len(buffer) - _BANNER_FULL_LEN)
    index = bytes(buffer).find(BANNER[:1], start)
    while index >= 0:
        if could_be_banner(buffer[index:]):
            return len(buffer) - index
        index = bytes(buffer).find(BANNER[:1], index + 1)
    return 0


def holds_prompt_fragment(buffer: bytes | bytearray) -> bool:
    """Whether ``buffer`` holds a piece of the raw REPL's banner or ends at its prompt: the
    board was answering, if not (yet) in whole."""
    data = bytes(buffer)
    return BANNER[:3] in data or data.rstrip().endswith(PROMPT)


def find_paste_answer(buffer: bytes | bytearray) -> tuple[int, int] | None:
    """Where the first answer to a raw-paste request (``R\\x01``, ``R\\x00`` or the banner) stands."""
    match = _PASTE_ANSWER_RE.search(buffer)
    return None if match is None else (match.start(), match.end())


def paste_answer_tail_keep(buffer: bytes | bytearray) -> int:
    """How many trailing bytes of ``buffer`` could begin an answer to a raw-paste request."""
    return max(banner_tail_keep(buffer), 1 if buffer.endswith(b"R") else 0)


SOFT_REBOOT_LINES = (b"MPY: soft reboot\r\n", b"PYB: soft reboot\r\n", b"soft reboot\r\n")
"""What a board prints as it soft-reboots: current ports, old pyboards, the micro:bit's 1.9."""
_SOFT_REBOOT_RE = re.compile(b"|".join(re.escape(line) for line in SOFT_REBOOT_LINES))
SOFT_REBOOT_TAIL = max(len(line) for line in SOFT_REBOOT_LINES) - 1
"""Bytes to keep from one piece of input to find a soft-reboot line split across pieces."""


def soft_reboot_end(buffer: bytes | bytearray) -> int | None:
    """Where the first soft-reboot line in ``buffer`` ends, if one does."""
    match = _SOFT_REBOOT_RE.search(buffer)
    return None if match is None else match.end()


def soft_reboot_at_start(buffer: bytes | bytearray) -> int | None:
    """The length of the soft-reboot line ``buffer`` starts with; ``0`` while ``buffer`` may still
    grow into one; ``None`` when it cannot."""
    data = bytes(buffer)
    for line in SOFT_REBOOT_LINES:
        if data.startswith(line):
            return len(line)
    return 0 if any(line.startswith(data) for line in SOFT_REBOOT_LINES) else None
