"""Moving a file's bytes to and from a board: what each board can do, and the calls that do it.

Up, a file is written under a temporary name beside its target, registered with the agent as
the session's (so a host that dies mid-put leaves nothing the session's end or reaping does
not remove), in chunks sized from the board's heap, and renamed over the target in the call
that carries the last chunk. Down, the board streams the file raw where it can write bytes to
its output (``sys.stdout.buffer``, ``microbit.uart``), a whole file per call up to
:data:`STREAM_MOST` bytes; elsewhere ``repr`` literals one call each. Encodings:
:mod:`belay.session.files.codec`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from belay.agent import calls
from belay.board_info import Capabilities
from belay.errors import DeviceValueError
from belay.heap import inflate_window_bits, roomy_for_transfers
from belay.literals import INTERNED_UP_TO, uninterned
from belay.protocol import codec as file_codec
from belay.session.context import SessionContext, Timeout
from belay.session.files.cache import Features

SMALL_CHUNK = 128
"""The most file bytes a call carries up on a small heap (its literal lives in the parser's
memory, beside the raw REPL's copy of the call)."""

LARGEST_CHUNK = 64 * 1024
"""The most file bytes a call carries up on a roomy board: ~3 s at 115200, so the call's
framing and round trip are under 1% of it."""

STREAM_MOST = 256 * 1024
"""The most bytes one call streams down (then the next call carries on)."""


@dataclass(frozen=True, slots=True)
class TransferPlan:
    """How one board's transfers go: chunk sizes and encodings."""

    chunk: int
    roomy: bool
    wbits: int | None
    """The zlib window (log2) where the board inflates, else ``None``."""
    piece: int
    """Bytes the board reads at a time when streaming down."""


def plan_for(capabilities: Capabilities, features: Features) -> TransferPlan:
    heap = capabilities.heap
    if not roomy_for_transfers(capabilities):
        chunk = max(64, min(SMALL_CHUNK, capabilities.mem_free // 24))
        return TransferPlan(chunk=chunk, roomy=False, wbits=None, piece=64)
    wbits = inflate_window_bits(capabilities) if features.deflate else None
    chunk = max(1024, min(LARGEST_CHUNK, heap // 16))
    return TransferPlan(chunk=chunk, roomy=True, wbits=wbits, piece=min(4096, chunk))


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


def chunk_code(token: str, chunk: bytes, plan: TransferPlan) -> str:
    """The code that appends ``chunk`` to the session's open temporary file."""
    if len(chunk) <= INTERNED_UP_TO:  # a short constant would be interned by the board for good
        return calls.file_write_literal(token, uninterned(chunk).encode("ascii")).decode("ascii")
    if not plan.roomy:
        dense = calls.file_write_literal(token, file_codec.python_literal(chunk))
        return DenseCode(dense, calls.file_write_literal(token, repr(chunk).encode("ascii")).decode("ascii"))
    payload, packed = file_codec.maybe_compressed(chunk, plan.wbits)
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


COPY_COMMIT_MOST = 2048
"""Where a board has no ``os.rename``, files up to this size are put through parts and a
copy; larger ones are written straight to their name (see :class:`Upload`)."""

PART_CHUNKS = 8
"""Where a board has no ``os.rename``, the temporary file is written as parts of this many
chunks: its commit copies them into the target one by one, removing each."""


@dataclass
class Upload:
    """One put: its board paths, the temporary name, and the calls that write it.

    ``temp_path``/``temp_name`` (the board's path, and the agent's record of it); where the
    board has no ``os.rename`` they are the prefix of the parts' names, or for a file over
    :data:`COPY_COMMIT_MOST` the target itself: the micro:bit's flash cannot hold a large
    file twice, and its filesystem fails when it must reclaim space during the copy. Such a
    direct write is registered as the session's until complete, so a failed, cancelled or
    abandoned one is removed: the old file is lost, but no partial file is left."""

    token: str
    temp_path: str
    temp_name: str
    target_path: str
    target_name: str
    temporary: bool
    renames: bool
    """The board has ``os.rename``: one temporary file, else parts."""
    parts: int = 0
    """The temporary files opened so far (1 where the board renames)."""
    decides: bool = False
    """The first call answers whether the target is there (parts) or not (written in place);
    the caller then calls :meth:`in_place` before taking the next code."""

    written: int = 0
    """The bytes of data the board has taken so far (where a call failed: before it)."""

    def in_place(self) -> None:
        """Write straight to the target from here on (it was not there)."""
        self.temp_path, self.temp_name, self.decides = self.target_path, self.target_name, False

    def codes(self, data: bytes, plan: TransferPlan, features: Features) -> Iterator[str]:
        """Each call's code: the first opens the temporary file, the last renames it."""
        starts = range(0, len(data), plan.chunk)
        if self.decides:
            code = calls.file_open_part_or_target(
                self.token, *self._part(), self.target_path, self.target_name
            )
        else:
            code = calls.file_open_temp(self.token, *self._part(), self.target_path, features.stat)
        for index, start in enumerate(starts):  # encoded as they go: the first call is not kept waiting
            if index and not self.renames and self.temp_path != self.target_path and index % PART_CHUNKS == 0:
                code = calls.file_next_part(self.token, *self._part())
            chunk = chunk_code(self.token, data[start : start + plan.chunk], plan)
            code = join(code, chunk) if code else chunk
            if start != starts[-1]:
                yield code
                code = ""
                self.written = start + plan.chunk  # resumed: the board took that call
        if code and not plan.roomy:  # a small heap takes the commit in calls of its own
            yield code
            code = ""
        if self.renames or self.temp_path == self.target_path:
            commit = calls.file_commit(self.token, self.temp_path, self.temp_name, self.target_path,
                                       self.target_name, self.temporary)  # fmt: skip
            yield join(code, commit) if code else commit
            return
        copy = calls.file_commit_parts(
            self.token, self.temp_path, self.temp_name, self.parts, self.target_path
        )
        yield join(code, copy) if code else copy
        yield calls.file_commit_records(self.token, self.target_name, self.temporary)

    def _part(self) -> tuple[str, str]:
        """The board path and name of the next temporary file (counted in :attr:`parts`)."""
        self.parts += 1
        if self.renames or self.temp_path == self.target_path:
            return self.temp_path, self.temp_name
        return f"{self.temp_path}{self.parts - 1}", f"{self.temp_name}{self.parts - 1}"

    def abort_code(self) -> str:
        """Removes every temporary file this put may have made (the next one too: a cancel
        may land after the board opened it and before the host counted it)."""
        if self.decides:  # cancelled before the first answer: it may be either
            direct = calls.file_abort_direct(self.token, self.target_path, self.target_name)
            return direct + "\n" + self._abort_parts()
        if self.renames or self.temp_path == self.target_path:
            return calls.file_abort(self.token, [self.temp_path], [self.temp_name])
        return self._abort_parts()

    def _abort_parts(self) -> str:
        return calls.file_abort_parts(self.token, self.temp_path, self.temp_name, self.parts + 1)


async def download(
    session: SessionContext, path: str, plan: TransferPlan, features: Features, timeout: Timeout
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


async def _download_values(session: SessionContext, path: str, plan: TransferPlan, timeout: Timeout) -> bytes:
    size = plan.chunk if plan.roomy else plan.piece  # a repr takes up to four times the bytes
    parts: list[bytes] = []
    chunk = await session.run_value(calls.file_open_read(session.token, path, size), timeout=timeout)
    while True:
        if not isinstance(chunk, bytes):
            raise DeviceValueError(f"reading {path!r}: the board sent {type(chunk).__name__}")
        if not chunk:
            return b"".join(parts)
        parts.append(chunk)
        chunk = await session.run_value(calls.file_read(session.token, size), timeout=timeout)
