"""Host values written as MicroPython source: :func:`dumps`, and the forms calls are built
from (:func:`call_arguments`, :func:`uninterned`). Reading values back is
:mod:`belay.literals.reader`'s."""

from __future__ import annotations

import math
from typing import Any

from belay.errors import DeviceValueError
from belay.literals.reader import MAX_DEPTH

INTERNED_UP_TO = 10
"""A board's compiler interns string and bytes constants of up to this many bytes for good
(``MICROPY_ALLOC_PARSE_INTERN_STRING_LEN``): a new one costs heap until the next reset."""


def dumps(value: Any) -> str:
    """MicroPython source for ``value``; raises :class:`DeviceValueError` for non-literals."""
    return _dump(value, 0, False)


def dumps_for_board(value: Any) -> str:
    """Like :func:`dumps`, but a short string or bytes is spelled as a longer constant cut at
    run time (``'bob        '[:3]``), so the board's compiler interns nothing for good."""
    return _dump(value, 0, True)


def call_arguments(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """``args`` and ``kwargs`` as call-argument source (each a Python literal)."""
    parts = [dumps_for_board(value) for value in args]
    for key, value in kwargs.items():
        if not key.isidentifier():
            raise DeviceValueError(f"keyword {key!r} is not an identifier")
        parts.append(f"{key}={dumps_for_board(value)}")
    return "".join("," + part for part in parts)


def uninterned(text: str | bytes) -> str:
    """Source for ``text`` that the board will not intern (see :func:`dumps_for_board`)."""
    if isinstance(text, str):
        size = len(text.encode("utf-8"))
        padded = str.__repr__(text + " " * (INTERNED_UP_TO + 1 - size))
        exact = str.__repr__(text)
    else:
        size = len(text)
        padded = bytes.__repr__(text + b" " * (INTERNED_UP_TO + 1 - size))
        exact = bytes.__repr__(text)
    return f"{padded}[:{len(text)}]" if 0 < size <= INTERNED_UP_TO else exact


def _dump(value: Any, depth: int, board: bool) -> str:
    if depth > MAX_DEPTH:
        raise DeviceValueError(f"value nested deeper than {MAX_DEPTH} levels")
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, str):  # by the base type: a subclass may repr as code
        return uninterned(str(value)) if board else str.__repr__(value)
    if isinstance(value, bytes):
        return uninterned(bytes(value)) if board else bytes.__repr__(value)
    if isinstance(value, float):
        return float.__repr__(value) if math.isfinite(value) else f"float('{float.__repr__(value)}')"
    if isinstance(value, bytearray):
        return f"bytearray({bytes(value)!r})"
    if isinstance(value, tuple):
        items = [_dump(item, depth + 1, board) for item in value]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    if isinstance(value, list):
        return "[" + ", ".join(_dump(item, depth + 1, board) for item in value) + "]"
    if isinstance(value, set | frozenset):
        if not value:
            return "set()"
        return "{" + ", ".join(_dump(item, depth + 1, board) for item in value) + "}"
    if isinstance(value, dict):
        pairs = (f"{_dump(k, depth + 1, board)}: {_dump(v, depth + 1, board)}" for k, v in value.items())
        return "{" + ", ".join(pairs) + "}"
    raise DeviceValueError(f"{type(value).__name__} is not a literal that can cross the wire")


__all__ = ["INTERNED_UP_TO", "call_arguments", "dumps", "dumps_for_board", "uninterned"]
