"""How a file's bytes cross the raw REPL: pure functions, no I/O, nothing evaluated.

Up (host to board), a chunk travels as a bytes literal inside a call's code. The board's
lexer takes raw bytes 0x80-0xFF and most control bytes inside a literal, so most bytes go as
themselves. What must not appear raw is what :func:`belay.protocol.control.escape_code`
would otherwise wrap the whole call for (NUL and the raw REPL's control bytes 0x01-0x05),
the carriage return the lexer turns into a newline, the quote and the
backslash. Two spellings:

* :func:`raw_literal` (roomy boards): ``rb'''...'''`` where each of those bytes ``b`` is
  :data:`ESCAPE` followed by ``b ^ 0x80`` (both safe raw), undone on the board by one
  ``bytes.replace`` per escape used (:func:`escapes_used`). 8 of 256 values are escaped
  (more only for quotes that would end the literal): incompressible data grows by 3%.
* :func:`python_literal` (small heaps: no copies made on the board): ``b'...'`` with the
  lexer's own escapes (``\\n``, ``\\x00``): about 6% larger for incompressible data.

Down (board to host), the board writes the file's bytes raw with two escaped: the raw REPL's
end of output (``\\x04``) and :data:`ESCAPE` itself, each as :data:`ESCAPE` and ``b ^ 0x80``;
the stream ends with :data:`ESCAPE` ``E`` and the count of bytes sent, which
:class:`DownDecoder` checks.
"""

from __future__ import annotations

import re
import zlib

from belay.literals import uninterned

ESCAPE = 0xFE
"""Starts a two-byte escape both ways (never part of UTF-8 text, so text rarely pays)."""

END = ord("E")
"""After :data:`ESCAPE` in the down stream: the count of bytes sent follows, then nothing."""

_CONTROL = frozenset(range(0x00, 0x06))
"""What the raw REPL acts on (ctrl-A to ctrl-E), and NUL, which the unix port reads as 0x01."""
_RAW_UNSAFE = _CONTROL | {0x0D, ESCAPE}
"""Bytes never sent raw inside a raw triple-quoted literal: the control bytes, the carriage
return the lexer turns into a newline, and the escape itself (a quote or a backslash only
where it would end the literal: :data:`_RAW_QUOTES`)."""
_RAW_ESCAPABLE = _RAW_UNSAFE | {ord("'"), ord("\\")}
_UNSAFE_UP = _RAW_UNSAFE | {0x0A, ord("'"), ord("\\")}
"""Bytes never sent raw inside a plain one-line literal."""

_RAW_STEPS = [
    (bytes((b,)), bytes((ESCAPE, b ^ 0x80))) for b in sorted(_RAW_UNSAFE, key=lambda b: b != ESCAPE)
]
"""``replace`` steps that make a raw literal's body: the escape byte first (no later step
makes one that an earlier step would see again)."""
_RAW_QUOTES = re.compile(rb"'(?='|\Z)|\\\Z")
"""A quote that would end the literal (before another, or last), a backslash that would
escape its closing quote (last)."""

_SHORT = {0x07: b"\\a", 0x08: b"\\b", 0x0A: b"\\n", 0x0B: b"\\v", 0x0C: b"\\f", 0x0D: b"\\r", 0x27: b"\\'"}
_PYTHON_STEPS = [(b"\\", b"\\\\")] + [
    (bytes((b,)), _SHORT.get(b, b"\\x%02x" % b)) for b in sorted(_UNSAFE_UP - {ESCAPE, 0x5C} | {0x0A})
]
"""``replace`` steps that make a plain literal's body: the backslash first."""

DOWN_ESCAPED = (0x04, ESCAPE)
"""Bytes the board escapes in the down stream (the end of output, and the escape)."""


def _replace_all(data: bytes, steps: list[tuple[bytes, bytes]]) -> bytes:
    for old, new in steps:
        if old in data:
            data = data.replace(old, new)
    return data


def escaped_size(data: bytes) -> int:
    """About the length of :func:`raw_literal`'s body for ``data`` (without making it)."""
    return len(data) + sum(data.count(old) for old, _ in _RAW_STEPS)


def _escape_one(match: re.Match[bytes]) -> bytes:
    return bytes((ESCAPE, match.group()[0] ^ 0x80))


def raw_literal(data: bytes) -> bytes:
    """``data`` as a triple-quoted raw bytes literal whose escapes :func:`escapes_used` undoes."""
    return b"rb'''" + _RAW_QUOTES.sub(_escape_one, _replace_all(data, _RAW_STEPS)) + b"'''"


def escapes_used(data: bytes) -> bytes:
    """The second bytes of the escapes :func:`raw_literal` put in ``data``'s literal, in the
    order the board must undo them (the escape byte itself last), as board source (never a
    short constant: the board would intern it for good)."""
    present = sorted(set(data) & _RAW_ESCAPABLE, key=lambda byte: byte == ESCAPE)  # ' and \\ may be
    return uninterned(bytes(byte ^ 0x80 for byte in present)).encode("ascii")


def python_literal(data: bytes) -> bytes:
    """``data`` as a plain bytes literal, escaped the lexer's way (no work on the board)."""
    return b"b'" + _replace_all(data, _PYTHON_STEPS) + b"'"


def undo_raw(literal_body: bytes) -> bytes:
    """What the board makes of a :func:`raw_literal` body (for tests; the board does this)."""
    out = literal_body
    for code in escapes_used_codes(literal_body):
        out = out.replace(bytes((ESCAPE, code)), bytes((code ^ 0x80,)))
    return out


def escapes_used_codes(literal_body: bytes) -> list[int]:
    codes = {literal_body[i + 1] for i in range(len(literal_body) - 1) if literal_body[i] == ESCAPE}
    return sorted(codes, key=lambda code: code ^ 0x80 == ESCAPE)


def compressed(data: bytes, wbits: int) -> bytes:
    """``data`` as a zlib stream with a ``2**wbits``-byte window (what the board must allocate)."""
    packer = zlib.compressobj(9, zlib.DEFLATED, wbits)
    return packer.compress(data) + packer.flush()


def maybe_compressed(data: bytes, wbits: int | None) -> tuple[bytes, bool]:
    """``data`` compressed with a ``2**wbits``-byte window where that crosses the line in
    clearly fewer bytes (never with ``wbits`` ``None``: the board cannot inflate), and whether
    it was."""
    if wbits is None or not data:
        return data, False
    packed = compressed(data, wbits)
    return (packed, True) if worth_compressing(data, packed) else (data, False)


def worth_compressing(data: bytes, packed: bytes) -> bool:
    """Whether ``packed`` crosses the line in clearly fewer bytes than ``data`` would."""
    return escaped_size(packed) < 0.95 * escaped_size(data)


class DownDecoder:
    """Reads the board's escaped down stream as it arrives, in any split."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self._pending = b""
        self.count: bytes | None = None
        """The count after the end marker, once seen (digits, possibly still arriving)."""

    def feed(self, data: bytes) -> None:
        if self.count is not None:
            self.count += data
            return
        data = self._pending + data
        self._pending = b""
        while data:
            cut = data.find(bytes((ESCAPE,)))
            if cut < 0:
                self.parts.append(data)
                return
            self.parts.append(data[:cut])
            if cut + 1 >= len(data):
                self._pending = data[cut:]
                return
            code = data[cut + 1]
            if code == END:
                self.count = data[cut + 2 :]
                return
            self.parts.append(bytes((code ^ 0x80,)))
            data = data[cut + 2 :]

    def result(self) -> bytes:
        """The bytes sent; :class:`ValueError` if the stream was cut or garbled."""
        data = b"".join(self.parts)
        count = (self.count or b"").strip()
        if self._pending or not count.isdigit() or int(count) != len(data):
            raise ValueError(
                f"the board's stream ended after {len(data)} bytes, its count says {count!r:.40}"
            )
        return data
