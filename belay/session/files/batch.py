"""Many small files in few calls: a project's upload costs about its bytes, not its file count.

A sync or an install sends its small files many to a call where the board renames and has
room: their bytes joined into one literal (compressed as a whole where the board inflates and
they shrink), each file still written through a temporary file of its own and renamed over
its target when whole. Over a 115200-baud line a call's framing and code cost about as much
as a 500-byte file's bytes, so one call per file doubled a first sync's time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from belay.agent import calls
from belay.protocol import codec as file_codec
from belay.session.files.transfer import DenseCode, TransferPlan

FILES_MOST = 64
"""The most files one call writes (its table of names is code the board compiles)."""

SMALL_PART = 4
"""A file goes in a batch when it is at most 1/SMALL_PART of a call's chunk."""


def batches(sizes: Sequence[int], plan: TransferPlan, renames: bool) -> list[list[int]]:
    """The indexes of files of ``sizes`` grouped into calls, in order (files are written in the
    order given): consecutive small files together up to a chunk's bytes and :data:`FILES_MOST`
    files; a larger file, or any file on a board that cannot rename or has little room, alone
    (sent as a put of its own)."""
    if not (renames and plan.roomy):
        return [[index] for index in range(len(sizes))]
    groups: list[list[int]] = []
    current: list[int] = []
    filled = 0
    for index, size in enumerate(sizes):
        large = size > plan.chunk // SMALL_PART
        if current and (large or filled + size > plan.chunk or len(current) == FILES_MOST):
            groups.append(current)
            current, filled = [], 0
        if large:
            groups.append([index])
            continue
        current.append(index)
        filled += size
    if current:
        groups.append(current)
    return groups


def fits(name: str, prefix: str, on_board: Callable[[str], str]) -> bool:
    """Whether board path ``name`` can go in a batch: its board path is ``prefix`` + ``name``
    (not outside the root), and it is a line of UTF-8 (the names travel as lines of text)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\n" not in name and on_board(name) == prefix + name


def batch_code(token: str, prefix: str, files: Sequence[tuple[str, str, bytes]], plan: TransferPlan) -> str:
    """The one call that writes each ``(name, temp_name, data)`` of ``files`` through its
    temporary file; board paths are ``prefix`` + name. The names travel with the bytes, so
    they are compressed with them."""
    names = "\n".join(f"{name}\n{temp}" for name, temp, _ in files).encode("utf-8")
    ends = [len(names)]
    for _, _, data in files:
        ends.append(ends[-1] + len(data))
    joined = names + b"".join(data for _, _, data in files)
    payload, packed = file_codec.maybe_compressed(joined, plan.wbits)
    literal, escapes = file_codec.raw_literal(payload), file_codec.escapes_used(payload)
    dense = calls.file_write_batch(token, literal, escapes, packed, prefix, ends)
    text = calls.file_write_batch(token, repr(payload).encode("ascii"), b"b''", packed, prefix, ends)
    return DenseCode(dense, text.decode("utf-8"))


def abort_code(token: str, prefix: str, temp_names: Sequence[str]) -> str:
    """Removes the temporary files a failed or cancelled batch left (the renamed ones are whole)."""
    names = "".join(f"globals().pop({name!r},None)\n" for name in calls.BATCH_NAMES)
    return names + calls.file_abort(token, [prefix + name for name in temp_names], list(temp_names))
