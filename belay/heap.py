"""A board's heap as belay decides by it: the thresholds, each named once with its purpose, and
whether a call's code fits (the policy :class:`~belay.device.Device` applies before a long call
in plain raw mode).

In plain raw mode a board keeps all of a call's code in one growing heap block as it arrives;
one that runs out there may halt (MicroPython 1.9 on the micro:bit) or exit (the unix port).
So code longer than :data:`FIT_CHECK_ABOVE` is sent only after one round trip
(:data:`HEAP_QUERY`) shows the board's largest free block can hold it.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

from belay.board_info import Capabilities
from belay.errors import DeviceValueError
from belay.link import CallResult
from belay.protocol.control import escape_code

# --- thresholds on the whole heap (Capabilities.heap) -------------------------------------

ROOMY_TRANSFERS_FROM = 32 * 1024
"""Boards with at least this much heap get roomy file transfers: raw literals undone by
``replace`` (copies of a chunk on the board), large chunks, ``deflate`` where the board has it,
and the sha256 part of a tree walk; smaller ones get small chunks in literals the lexer decodes
(no copies), and FNV-1a walks."""

COLLECT_BEFORE_KEEPING_BELOW = 64 * 1024
"""Boards with less heap than this collect garbage before a call that keeps something on the
board (a deployed function, a proxied object), so it lands in the lowest free blocks instead of
at the garbage's high-water mark (fragmentation)."""

# --- thresholds on the free heap (Capabilities.mem_free) ----------------------------------

ONE_CHUNK_AGENT_FREE_FROM = 512 * 1024
"""A board with this much free heap (the unix port, boards with PSRAM) takes each agent file in
one chunk: 12 calls to write the agent instead of 40."""

WARM_UP_FREE_FROM = 64 * 1024
"""The pytest plugin's warm-up sends the longest call a session's files make only to boards with
this much free heap (the micro:bit has no ~0.9 KB to spare for the raw REPL's grown buffer)."""


def roomy_for_transfers(capabilities: Capabilities) -> bool:
    """Whether file transfers on a board with ``capabilities`` go the roomy way
    (:data:`ROOMY_TRANSFERS_FROM`)."""
    return capabilities.heap >= ROOMY_TRANSFERS_FROM


def inflate_window_bits(capabilities: Capabilities) -> int:
    """The zlib window (log2) a board inflating what belay sends must allocate: 32 KB on a
    board of a megabyte or more of heap, else 4 KB."""
    return 15 if capabilities.heap >= 1024 * 1024 else 12


def collects_before_keeping(capabilities: Capabilities) -> bool:
    """Whether calls that keep something collect garbage first (:data:`COLLECT_BEFORE_KEEPING_BELOW`)."""
    return capabilities.heap < COLLECT_BEFORE_KEEPING_BELOW


# --- whether a call fits ------------------------------------------------------------------

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
