"""What a link's errors quote of what a board sent: bounded, escaped, with a hint where it says why."""

from __future__ import annotations

SENT_EXCERPT = 120
"""Bytes at most of what a board sent that an error about it quotes."""


def what_it_sent(seen: bytes | bytearray) -> str:
    """`` (it sent b'...')``: the last ``SENT_EXCERPT`` bytes (from a line's start where one is
    near), escaped, with a hint where they say why (an ESP board held in its ROM bootloader)."""
    if not seen:
        return " (it sent nothing)"
    excerpt = bytes(seen[-SENT_EXCERPT:])
    if len(seen) > SENT_EXCERPT:
        newline = excerpt.find(b"\n", 0, SENT_EXCERPT // 2)
        excerpt = excerpt[newline + 1 :]
    text = f" (it sent {'... ' if len(excerpt) < len(seen) else ''}{excerpt!r})"
    if b"waiting for download" in seen:
        text += (
            ": the board is in its ROM bootloader, waiting for a download; its DTR/RTS lines may "
            "be selecting it (try --dtr/--rts, or press its reset button)"
        )
    return text


def what_it_booted(seen: bytes) -> str:
    """`` (it printed b'MicroPython v... >>> ')``: a boot's banner (the noise before it left out
    where the banner alone fills the excerpt), escaped and bounded."""
    start = seen.rfind(b"MicroPython ")
    excerpt = seen[start:] if start >= 0 else seen
    excerpt = excerpt[: SENT_EXCERPT + 40]
    return f" (it printed {'... ' if len(excerpt) < len(seen) else ''}{excerpt!r})"
