"""A scripted MicroPython raw REPL on the board end of a :class:`MemoryTransport`.

It answers the way a board does (banner on ctrl-A, ``OK`` + output + framing on ctrl-D,
``KeyboardInterrupt`` on ctrl-C while a call runs) and evaluates the one kind of call the
tests make, ``print(repr(<int>\\n))``. Each answer first passes through the next *fault* of
a script: sent as is, with random bytes spliced in (as writes of their own), cut short, or
withheld (a stalled call that only a ctrl-C ends). When the script runs out the board behaves.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from belay.transports import BoardEnd

BANNER = b"raw REPL; CTRL-B to exit\r\n>"
INTERRUPTED = b"\x04Traceback (most recent call last):\r\nKeyboardInterrupt: \r\n\x04>"
_EVAL = re.compile(rb"print\(repr\((-?\d+)\n\)\)")


@dataclass(frozen=True)
class Fault:
    """What happens to one answer: ``kind`` is ``ok``, ``noise``, ``cut`` or ``stall``."""

    kind: str = "ok"
    noise: bytes = b""
    at: int = 0


@dataclass
class FakeBoard:
    end: BoardEnd
    script: Sequence[Fault] = ()
    faults_used: int = 0
    calls: int = 0
    line: bytearray = field(default_factory=bytearray)
    stalled: bool = False

    async def run(self) -> None:
        while True:
            for byte in await self.end.sent():
                self._byte(byte)

    def _byte(self, byte: int) -> None:
        if byte == 0x01:
            self.line.clear()
            self._answer(BANNER)
        elif byte == 0x03:
            self.line.clear()
            if self.stalled:
                self.stalled = False
                self.end.feed(INTERRUPTED)
        elif byte == 0x04:
            self._run_line()
        elif not self.stalled:
            self.line.append(byte)

    def _run_line(self) -> None:
        code, self.line = bytes(self.line), bytearray()
        self.calls += 1
        match = _EVAL.fullmatch(code.strip())
        output = match.group(1) + b"\r\n\x04\x04>" if match else b"\x04NameError: ?\r\n\x04>"
        self._answer(b"OK" + output, stallable=True)

    def _answer(self, reply: bytes, *, stallable: bool = False) -> None:
        fault = self.script[self.faults_used] if self.faults_used < len(self.script) else Fault()
        self.faults_used += 1
        if fault.kind == "stall" and stallable:
            self.end.feed(b"OK")
            self.stalled = True
            return
        at = fault.at % (len(reply) + 1)
        if fault.kind == "cut":
            reply = reply[:at]
        pieces = [reply[:at], fault.noise, reply[at:]] if fault.kind == "noise" else [reply]
        for piece in pieces:  # separate writes: the host may read them in separate chunks
            if piece:
                self.end.feed(piece)
