"""The flash a board without ``os.statvfs`` has left, counted by belay, so that a write never
fills it: the micro:bit's filesystem, once a write has filled it, corrupts other files on the
next write that fills it. belay keeps a reserve free and refuses, before writing anything, a
put that would reach into it.

The micro:bit (MicroPython 1.9) keeps files in 128-byte chunks, 126 bytes of data each, the
file's name in the first; its filesystem holds 120 chunks (measured: a 1-chunk file and a
filler of 14,868 bytes fill it). Boards not in :data:`CHUNKS_BY_PLATFORM` report nothing here
and are written as before.
"""

from __future__ import annotations

import logging
from errno import ENOSPC

from belay.agent import calls
from belay.errors import BoardFileError, DeviceExecError
from belay.session.context import SessionContext, Timeout

logger = logging.getLogger(__name__)

CHUNK_DATA = 126
"""Bytes of data in one chunk of the micro:bit's filesystem."""
CHUNKS_BY_PLATFORM = {"microbit": 120}
"""Chunks the filesystem holds, for the boards whose firmware cannot say (no ``os.statvfs``)."""
RESERVE_CHUNKS = 8
"""Chunks (about 1 KB) a put never takes: the flash is never filled."""


def chunks_for(size: int, name: str) -> int:
    """Chunks a file of ``size`` bytes named ``name`` takes."""
    return (size + len(name) + CHUNK_DATA + 1) // CHUNK_DATA


async def must_write_in_place(
    session: SessionContext, path: str, on_board: str, size: int, part: int, timeout: Timeout
) -> bool:
    """Whether a put of ``size`` bytes to ``path`` must be written over the old file: its
    parts of ``part`` bytes (written beside the old file), or the copy that replaces the old
    file with them one part at a time, would reach into the reserve, and a write over the old
    file would not. ``False`` where they fit, or the board is not one counted here.

    Raises :class:`BoardFileError` (ENOSPC) before anything is written when even that would
    leave less than the reserve free."""
    total = CHUNKS_BY_PLATFORM.get(session.board.device.info.platform)
    if total is None:
        return False
    used, old = await session.run_value(calls.flash_chunks(on_board, CHUNK_DATA), timeout=timeout)
    new, room = chunks_for(size, on_board), total - RESERVE_CHUNKS - used
    parts = new + size // max(1, part) + 1  # each part rounds up to a chunk and holds its name
    logger.debug("%s: %d of %d chunks used, %d to write, %d there", path, used, total, new, old)
    if parts <= room and new - old + chunks_for(part, on_board) <= room:
        return False
    if new - old <= room:
        return True
    free = max(0, total - used) * CHUNK_DATA
    refusal = DeviceExecError(
        "OSError",
        f"[Errno {ENOSPC}] ENOSPC: {size} bytes do not fit in the ~{free} bytes free beside the "
        f"{RESERVE_CHUNKS * CHUNK_DATA} belay keeps free (a full flash corrupts files on this "
        "board); nothing was written",
        "",
    )
    raise BoardFileError(path, session.port, refusal, ENOSPC)
