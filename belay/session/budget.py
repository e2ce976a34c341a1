"""A board's heap as a budget: how much must stay free for a session to be let in.

Measured on the micro:bit (about 10 KB of heap): a session costs ~150 B, a small deployed
task ~70 B more, and compiling a call needs ~2 KB of free heap on top of what sessions hold
(the parser's stacks and the call's code). Below that a call fails with ``MemoryError:
parser could not allocate enough memory``, so the agent refuses a new session whose begin
leaves less than the reserve free, plus room for every open session's first calls.
"""

from __future__ import annotations

from belay.board_info import Capabilities

RESERVE_SHARE = 5
"""A fifth of the heap stays free for the sessions' calls..."""
RESERVE_MIN = 2 * 1024
"""...at least 2 KB (the micro:bit's parser needs about that)..."""
RESERVE_MAX = 64 * 1024
"""...and at most 64 KB, so roomy boards (the unix port's 2 MB) are limited by
``max_concurrent_sessions`` long before their heap."""


CALLS_ROOM = 256
"""Bytes kept free for each open session's calls: what one at work holds beyond its begin
(measured on the micro:bit: ~160 B begun, ~80 B more with a small task deployed and called and
a value bound by an ``exec``), rounded up, so that every session let in has room for belay's
calls and its own (twelve at once, each with a task and five execs: none out of memory)."""


def session_reserve(capabilities: Capabilities) -> tuple[int, int]:
    """``(reserve, each)``: bytes of heap that must be free after a session begins on a board
    with ``capabilities``, plus ``each`` per session already open there."""
    heap = capabilities.heap
    return max(RESERVE_MIN, min(RESERVE_MAX, heap // RESERVE_SHARE)), CALLS_ROOM
