"""Python literals across the wire, both ways, without ever evaluating board output as code.

- :mod:`belay.literals.dump`: host values written as MicroPython source (:func:`dumps`), short
  strings spelled so the board interns nothing for good (:func:`uninterned`).
- :mod:`belay.literals.reader`: what a board printed with ``repr()`` read back (:func:`loads`,
  :func:`aloads` off the event loop), accepting only literal forms, bounded in size, memory and time.
- :mod:`belay.literals.scalars`: the reader's numbers and strings.
"""

from __future__ import annotations

from belay.literals.dump import INTERNED_UP_TO, call_arguments, dumps, dumps_for_board, uninterned
from belay.literals.reader import MAX_DEPTH, MAX_MEMORY, MAX_TEXT, aloads, loads

__all__ = [
    "INTERNED_UP_TO",
    "MAX_DEPTH",
    "MAX_MEMORY",
    "MAX_TEXT",
    "aloads",
    "call_arguments",
    "dumps",
    "dumps_for_board",
    "loads",
    "uninterned",
]
