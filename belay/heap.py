"""Whether a call's code fits the board's heap: the policy :class:`~belay.device.Device` applies
before a long call in plain raw mode.

In plain raw mode a board keeps all of a call's code in one growing heap block as it arrives;
one that runs out there may halt (MicroPython 1.9 on the micro:bit) or exit (the unix port).
So code longer than :data:`FIT_CHECK_ABOVE` is sent only after one round trip
(:data:`HEAP_QUERY`) shows the board's largest free block can hold it.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from belay.errors import DeviceValueError
from belay.link import CallResult
from belay.protocol.control import escape_code

FIT_CHECK_ABOVE = 1024
"""Plain-raw-mode calls longer than this first ask the board how much heap it has free."""
HEAP_QUERY = (
    b"__import__('gc').collect()\n__import__('micropython').mem_info()\n"
    b"print(getattr(__import__('sys'), 'maxsize', 0))"  # MicroPython 1.9 has no sys.maxsize
)
"""What asks a board for its free heap: ``mem_info()`` then ``sys.maxsize`` (its word size)."""
_MEM_INFO = re.compile(rb"free: (\d+)|max free sz: (\d+)")

Query = Callable[[bytes], Awaitable[CallResult]]
"""Runs one call on the board (the device's, under its lock and deadline) and returns its result."""


async def check_fits(payload: bytes, query: Query, port: str) -> None:
    """Refuse ``payload`` with :class:`DeviceValueError` if the board on ``port`` cannot hold it
    in one call; ask it (through ``query``) only when the code is long."""
    size = len(escape_code(payload))
    if size <= FIT_CHECK_ABOVE:
        return
    found = await query(HEAP_QUERY)
    limit = None if found.error else heap_room(found.output)
    if limit is not None and size > limit:
        raise DeviceValueError(
            f"{size} bytes of code are more than the board on {port} can take in one call "
            f"(its largest free heap block holds {limit}): send the data in smaller pieces",
            port=port,
            limit=limit,
        )


def heap_room(mem_info: bytes) -> int | None:
    """The bytes of the largest free heap block, read from ``micropython.mem_info()`` output
    followed by ``sys.maxsize`` (blocks are 4 words); a third of the free heap where a port
    does not print its largest free block; ``None`` if the output says neither."""
    free = run = None
    for match in _MEM_INFO.finditer(mem_info):
        free = int(match.group(1)) if match.group(1) else free
        run = int(match.group(2)) if match.group(2) else run
    lines = mem_info.split()
    word = 8 if lines and lines[-1].isdigit() and int(lines[-1]) >= 2**32 else 4
    if run is not None:
        return run * 4 * word
    return None if free is None else free // 3
