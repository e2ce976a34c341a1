"""Python literals across the wire, both ways, without ever evaluating board output as code.

:func:`dumps` writes a host value as MicroPython source; :func:`loads` reads what a board
printed with ``repr()`` back into a host value by walking its syntax tree, accepting only
literal forms (plus the few non-literal spellings MicroPython's ``repr`` uses:
``inf``/``nan``, ``set()``, ``bytearray(b'...')``).
"""

from __future__ import annotations

import ast
import math
import re
from typing import Any

from belay.errors import DeviceValueError

_INTEGER = re.compile(r"-?[0-9]{1,30}")
MAX_DEPTH = 100
MAX_TEXT = 16 * 1024 * 1024

_NAMES: dict[str, Any] = {
    "None": None,
    "True": True,
    "False": False,
    "inf": math.inf,
    "nan": math.nan,
}


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


def loads(text: str) -> Any:
    """The value a board wrote with ``repr()``; raises :class:`DeviceValueError` otherwise."""
    if len(text) > MAX_TEXT:
        raise DeviceValueError(f"value of {len(text)} characters exceeds {MAX_TEXT}")
    text = text.strip()
    if text in _NAMES:  # the commonest answers, without a parse
        return _NAMES[text]
    if _INTEGER.fullmatch(text):
        return int(text)
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError) as error:
        raise DeviceValueError(f"board sent a value that is not a literal: {text[:200]!r}") from error
    try:
        return _load(tree.body, 0)
    except RecursionError as error:
        raise DeviceValueError("value nested too deeply") from error
    except TypeError as error:  # an unhashable set item or dict key: {[1]}
        raise DeviceValueError(f"board sent an impossible value: {error}") from error


def _load(node: ast.expr, depth: int) -> Any:
    if depth > MAX_DEPTH:
        raise DeviceValueError(f"value nested deeper than {MAX_DEPTH} levels")
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name) and node.id in _NAMES:
        return _NAMES[node.id]
    if isinstance(node, ast.Tuple):
        return tuple(_load(item, depth + 1) for item in node.elts)
    if isinstance(node, ast.List):
        return [_load(item, depth + 1) for item in node.elts]
    if isinstance(node, ast.Set):
        return {_load(item, depth + 1) for item in node.elts}
    if isinstance(node, ast.Dict) and None not in node.keys:
        keys = [_load(k, depth + 1) for k in node.keys if k is not None]
        return dict(zip(keys, (_load(v, depth + 1) for v in node.values), strict=True))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        operand = _load(node.operand, depth + 1)
        if isinstance(operand, int | float | complex) and not isinstance(operand, bool):
            return -operand if isinstance(node.op, ast.USub) else operand
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Sub):
        return _complex(node, depth)
    if isinstance(node, ast.Call):
        return _call(node, depth)
    raise DeviceValueError(f"not a literal: {type(node).__name__} at column {node.col_offset}")


def _complex(node: ast.BinOp, depth: int) -> complex:
    left, right = _load(node.left, depth + 1), _load(node.right, depth + 1)
    if isinstance(left, int | float) and isinstance(right, complex):
        return left + right if isinstance(node.op, ast.Add) else left - right
    raise DeviceValueError("not a literal: arithmetic other than a complex number")


def _call(node: ast.Call, depth: int) -> Any:
    name = node.func.id if isinstance(node.func, ast.Name) else None
    args = [_load(arg, depth + 1) for arg in node.args]
    if node.keywords or len(args) > 1:
        raise DeviceValueError(f"not a literal: call of {name}")
    if name == "set" and not args:
        return set()
    if name == "bytearray" and (not args or isinstance(args[0], bytes)):
        return bytearray(args[0] if args else b"")
    if name == "float" and args and args[0] in ("inf", "-inf", "nan"):
        return float(args[0])
    raise DeviceValueError(f"not a literal: call of {name}")
