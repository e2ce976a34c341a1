"""Moving a file's bytes to and from a board: what each board can do, and the calls that do it.

Up, a file is written under a temporary name beside its target, registered with the agent as
the session's (so a host that dies mid-put leaves nothing the session's end or reaping does
not remove), in chunks sized from the board's heap, and renamed over the target in the call
that carries the last chunk. Down, the board streams the file raw where it can write bytes to
its output (``sys.stdout.buffer``, ``microbit.uart``), a whole file per call up to
:data:`STREAM_MOST` bytes; elsewhere ``repr`` literals one call each. Encodings:
:mod:`belay.session.file_codec`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from belay.agent import calls
from belay.board_info import Capabilities
from belay.errors import DeviceValueError
from belay.session import file_codec
from belay.session.context import SessionContext, Timeout

ROOMY_HEAP = 32 * 1024
"""Boards with at least this much heap get raw literals undone by ``replace`` (copies of a
chunk on the board); smaller ones get literals the lexer decodes (no copies)."""

SMALL_CHUNK = 128
"""The most file bytes a call carries up on a small heap (its literal lives in the parser's
memory, beside the raw REPL's copy of the call)."""

LARGEST_CHUNK = 32 * 1024
"""The most file bytes a call carries up on a roomy board: ~3 s at 115200, so the call's
framing and round trip are under 1% of it."""

STREAM_MOST = 256 * 1024
"""The most bytes one call streams down (then the next call carries on)."""


@dataclass(frozen=True, slots=True)
class Features:
    """What a board offers for moving files (asked once per agent install)."""

    writer: int
    """1: ``sys.stdout.buffer``; 2: ``microbit.uart``; 0: neither (``repr`` literals down)."""
    deflate: bool
    rename: bool
    stat: bool

    @classmethod
    def parse(cls, answer: Any) -> Features:
        if not (isinstance(answer, tuple) and len(answer) == 4 and all(isinstance(v, int) for v in answer)):
            raise DeviceValueError(f"the board's file features answer was {answer!r:.200}")
        writer, deflate, rename, stat = answer
        return cls(int(writer), bool(deflate), bool(rename), bool(stat))


@dataclass(frozen=True, slots=True)
class Plan:
    """How one board's transfers go: chunk sizes and encodings."""

    chunk: int
    roomy: bool
    wbits: int | None
    """The zlib window (log2) where the board inflates, else ``None``."""
    piece: int
    """Bytes the board reads at a time when streaming down."""


def plan_for(capabilities: Capabilities, features: Features) -> Plan:
    heap = capabilities.mem_free + capabilities.mem_alloc
    if heap < ROOMY_HEAP:
        chunk = max(64, min(SMALL_CHUNK, capabilities.mem_free // 24))
        return Plan(chunk=chunk, roomy=False, wbits=None, piece=64)
    wbits = (15 if heap >= 1024 * 1024 else 12) if features.deflate else None
    chunk = max(1024, min(LARGEST_CHUNK, heap // 32))
    return Plan(chunk=chunk, roomy=True, wbits=wbits, piece=min(4096, chunk))


class DenseCode(str):
    """Call code whose bytes are not UTF-8 text: raw bytes in a literal.

    The session's ``run`` takes text; encoded by the device (``encode``) it gives the dense
    bytes. The text itself is an equivalent pure-ASCII call (the same bytes written, spelled
    with the lexer's escapes), so code joined in front of it (the session's pending
    releases) still writes exactly these bytes, only less densely.
    """

    dense: bytes

    def __new__(cls, dense: bytes, text: str) -> DenseCode:
        made = super().__new__(cls, text)
        made.dense = dense
        return made

    def encode(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        return self.dense


def chunk_code(token: str, chunk: bytes, plan: Plan) -> str:
    """The code that appends ``chunk`` to the session's open temporary file."""
    if not plan.roomy:
        dense = calls.file_write_literal(token, file_codec.python_literal(chunk))
        return DenseCode(dense, calls.file_write_literal(token, repr(chunk).encode("ascii")).decode("ascii"))
    payload, packed = chunk, False
    if plan.wbits is not None and chunk:
        squeezed = file_codec.compressed(chunk, plan.wbits)
        if file_codec.worth_compressing(chunk, squeezed):
            payload, packed = squeezed, True
    literal, escapes = file_codec.raw_literal(payload), file_codec.escapes_used(payload)
    dense = calls.file_write_escaped(token, literal, escapes, packed)
    text = calls.file_write_escaped(token, repr(payload).encode("ascii"), b"b''", packed)
    return DenseCode(dense, text.decode("ascii"))


def join(first: str, second: str) -> str:
    """Two pieces of call code as one call (dense when either is)."""
    if isinstance(first, DenseCode) or isinstance(second, DenseCode):
        dense = _dense(first) + b"\n" + _dense(second)
        return DenseCode(dense, str.__str__(first) + "\n" + str.__str__(second))
    return f"{first}\n{second}"


def _dense(code: str) -> bytes:
    return code.dense if isinstance(code, DenseCode) else code.encode("utf-8")


@dataclass
class Upload:
    """One put: its board paths, the temporary name, and the calls that write it."""

    token: str
    temp_path: str
    temp_name: str
    target_path: str
    target_name: str
    temporary: bool

    def codes(self, data: bytes, plan: Plan, features: Features) -> Iterator[str]:
        """Each call's code: the first opens the temporary file, the last renames it."""
        opening = calls.file_open_temp(
            self.token, self.temp_path, self.temp_name, self.target_path, features.stat
        )
        commit = calls.file_commit(self.token, self.temp_path, self.temp_name, self.target_path,
                                   self.target_name, self.temporary, features.rename)  # fmt: skip
        starts = range(0, len(data), plan.chunk)
        if not starts:
            yield join(opening, commit)
            return
        for start in starts:  # encoded as they go: the first call is not kept waiting
            code = chunk_code(self.token, data[start : start + plan.chunk], plan)
            code = join(opening, code) if start == 0 else code
            yield join(code, commit) if start == starts[-1] else code

    def abort_code(self) -> str:
        return calls.file_abort(self.token, self.temp_path, self.temp_name)


async def download(
    session: SessionContext, path: str, plan: Plan, features: Features, timeout: Timeout
) -> bytes:
    """The bytes of board ``path`` (the file stays open as the session's ``"r"`` until read)."""
    if not features.writer:
        return await _download_values(session, path, plan, timeout)
    parts: list[bytes] = []
    opening: str | None = path
    while True:
        decoder = file_codec.DownDecoder()
        code = calls.file_stream(session.token, opening, features.writer, STREAM_MOST, plan.piece)
        await session.run(code, timeout=timeout, on_output=decoder.feed)
        try:
            part = decoder.result()
        except ValueError as error:
            raise DeviceValueError(f"reading {path!r} from {session.port}: {error}") from None
        parts.append(part)
        if len(part) < STREAM_MOST:
            return b"".join(parts)
        opening = None


async def _download_values(session: SessionContext, path: str, plan: Plan, timeout: Timeout) -> bytes:
    size = plan.chunk
    parts: list[bytes] = []
    chunk = await session.run_value(calls.file_open_read(session.token, path, size), timeout=timeout)
    while True:
        if not isinstance(chunk, bytes):
            raise DeviceValueError(f"reading {path!r}: the board sent {type(chunk).__name__}")
        if not chunk:
            return b"".join(parts)
        parts.append(chunk)
        chunk = await session.run_value(calls.file_read(session.token, size), timeout=timeout)
