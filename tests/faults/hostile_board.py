"""A board that plays by the raw REPL's rules and then answers with whatever a test wants.

It answers the handshake (the raw banner on ctrl-A, the plain banner to a raw-paste request,
as a board without raw-paste does), the heap query and the capability probe like a small
MicroPython board, the call :data:`ALIVE` with ``alive``, and every other call with
``reply(code)``: the bytes the call printed. A test makes it send values that are huge,
malformed, not UTF-8, or code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import anyio

from belay.transports import BoardEnd, MemoryTransport

BANNER = b"raw REPL; CTRL-B to exit\r\n>"
MEM_INFO = b"mem: total=1, current=1, peak=1\r\nGC: total: 100000, used: 1000, free: 99000\r\n"
PROBE = b"('micropython', (1, 22, 0), 'hostile', 'fake', 6, 1, 1, 1, 1, 1, (), 99000, 1000)\r\n"

ALIVE = "print('alive')"
"""A call the board always answers with ``alive``: it still talks after a bad answer."""

Reply = Callable[[bytes], bytes]


def probe_with(**fields: str) -> bytes:
    """The probe's answer with some fields replaced by raw text (``mem_free="inf"``)."""
    names = ["implementation", "version", "platform", "machine", "mpy", "threads", "timer", "schedule"]
    names += ["filesystem", "modules_dict", "emitters", "mem_free", "mem_alloc"]
    values = ["'micropython'", "(1, 22, 0)", "'hostile'", "'fake'", "6", "1", "1", "1", "1", "1", "()"]
    values += ["99000", "1000"]
    chosen = [fields.get(name, value) for name, value in zip(names, values, strict=True)]
    return b"(" + ", ".join(chosen).encode() + b")\r\n"


@dataclass
class HostileBoard:
    """The board end of a memory transport; ``reply`` answers every call but the two above."""

    end: BoardEnd
    reply: Reply
    probe: bytes = PROBE
    calls: list[bytes] = field(default_factory=list)
    line: bytearray = field(default_factory=bytearray)

    async def run(self) -> None:
        """Answer until the host closes its end."""
        while True:
            try:
                received = await self.end.sent()
            except anyio.EndOfStream:
                return
            for byte in received:
                self._byte(byte)

    def _byte(self, byte: int) -> None:
        if byte == 0x01:
            self.line.clear()
            self.end.feed(BANNER)
        elif byte == 0x03:
            self.line.clear()
        elif byte == 0x04:
            code, self.line = bytes(self.line), bytearray()
            self.calls.append(code)
            self.end.feed(b"OK" + self._answer(code) + b"\x04\x04>")
        else:
            self.line.append(byte)

    def _answer(self, code: bytes) -> bytes:
        if b"mem_info" in code:
            return MEM_INFO + b"8\r\n"
        if b"_bp" in code:
            return self.probe
        if code == ALIVE.encode():
            return b"alive\r\n"
        return self.reply(code)


def hostile_pair(reply: Reply, probe: bytes = PROBE) -> tuple[MemoryTransport, HostileBoard]:
    transport, end = MemoryTransport.pair()
    return transport, HostileBoard(end, reply, probe)
