"""The scalars of a board's ``repr()``: numbers, strings and bytes, and the few names and calls
MicroPython prints for values that have no literal (``inf``, ``set()``, ...); and the patterns
that read runs and short containers of plain scalars in bulk. Escapes are decoded here, by a
table: nothing is compiled or evaluated."""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Callable
from typing import Any

from belay.errors import DeviceValueError

NO_ARGUMENT = object()
"""What a call's argument is when it has none: ``set()``."""
NAMES: dict[str, Any] = {"None": None, "True": True, "False": False, "inf": math.inf, "nan": math.nan}


def _set(argument: Any) -> set[Any]:
    if argument is not NO_ARGUMENT:
        raise DeviceValueError("set() with an argument")
    return set()


def _bytearray(argument: Any) -> bytearray:
    if argument is NO_ARGUMENT:
        return bytearray()
    if not isinstance(argument, bytes):
        raise DeviceValueError("bytearray() of something other than bytes")
    return bytearray(argument)


def _float(argument: Any) -> float:
    if argument not in ("inf", "-inf", "nan"):
        raise DeviceValueError("float() of something other than 'inf', '-inf' or 'nan'")
    return float(argument)


CALLS: dict[str, Callable[[Any], Any]] = {"set": _set, "bytearray": _bytearray, "float": _float}
"""The calls MicroPython's ``repr`` prints, each taking at most one argument (``NO_ARGUMENT``: none)."""


def number(text: str) -> int | float | complex:
    """An int, float or complex from a number token (``-7``, ``1e+100``, ``nan``, ``1+2j``)."""
    try:
        if text[-1] == "j":
            return complex(text)
        if "." in text or "e" in text or "E" in text or "n" in text:
            return float(text)
        return int(text)
    except ValueError as error:  # an int past Python's digit limit
        raise DeviceValueError(f"number {text[:40]!r}...: {error}", limit=None) from None


_ESCAPE = re.compile(
    r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|N\{[^}]{1,100}\}|[0-7]{1,3}|.)", re.S
)
_SIMPLE = {"\n": "", "\\": "\\", "'": "'", '"': '"', "a": "\a", "b": "\b", "f": "\f", "n": "\n",
           "r": "\r", "t": "\t", "v": "\v"}  # fmt: skip


def string(text: str) -> str | bytes:
    """The str or bytes a quoted token spells (``'a\\n'``, ``b'\\x04'``), escapes decoded.

    Text that was not UTF-8 on the board arrives as lone surrogates (``surrogateescape``) and
    is kept so in a str; a bytes literal must be ASCII, as Python's are.
    """
    is_bytes = text[0] in "bB"
    body = text[2:-1] if is_bytes else text[1:-1]
    if is_bytes and not body.isascii():
        raise DeviceValueError("bytes with a character that is not ASCII")
    if "\\" in body:
        body = _ESCAPE.sub(_bytes_escape if is_bytes else _str_escape, body)
    return body.encode("latin-1") if is_bytes else body


def _str_escape(match: re.Match[str]) -> str:
    code = match.group(1)
    head = code[0]
    if head in "xuU" and len(code) > 1:
        return _code_point(int(code[1:], 16))
    if head == "N" and len(code) > 1:
        try:
            return unicodedata.lookup(code[2:-1])
        except KeyError:
            raise DeviceValueError(f"unknown character name {code[2:-1][:40]!r}") from None
    return _common(code)


def _bytes_escape(match: re.Match[str]) -> str:
    code = match.group(1)
    if code[0] == "x" and len(code) > 1:
        return chr(int(code[1:], 16))
    if code[0] in "uUN":  # no escape in bytes: kept as written
        return match.group(0)
    value = _common(code)
    if len(value) == 1 and ord(value) > 0xFF:
        raise DeviceValueError(f"octal escape \\{code} past a byte")
    return value


def _common(code: str) -> str:
    if code[0] in "01234567":
        return chr(int(code, 8))
    if code in _SIMPLE:
        return _SIMPLE[code]
    if code in "xuUN":
        raise DeviceValueError(f"truncated \\{code} escape")
    return "\\" + code  # an unknown escape is kept, as Python keeps it


def _code_point(value: int) -> str:
    if value > 0x10FFFF:
        raise DeviceValueError(f"\\U{value:08x} is past the last code point")
    return chr(value)


# --- plain items in bulk: what makes most of a large value ------------------------------

_QUOTED = re.compile(r"'([^'\\\n]*)'")
Run = tuple[re.Pattern[str], Callable[[str], list[Any]], int]
"""A run of plain items with their commas (``1, 2, 3,``), read whole: the pattern, what makes
the items of its text, and the host bytes each item costs (see :func:`run_cost`)."""
NUMBER_RUNS: tuple[Run, ...] = (
    (re.compile(r"(?:\s*-?\d{1,18}\s*,){2,4096}"), lambda run: [int(n) for n in run.split(",")[:-1]], 8),
    (
        re.compile(r"(?:\s*-?\d+\.\d+(?:e[-+]?\d+)?\s*,){2,4096}"),
        lambda run: [float(n) for n in run.split(",")[:-1]],
        32,
    ),
)
STRING_RUNS: tuple[Run, ...] = ((re.compile(r"(?:\s*'[^'\\\n]*'\s*,){2,4096}"), _QUOTED.findall, 57),)
NUMBER_START = frozenset("-0123456789")
_ITEM = r"(?:-?\d{1,18}(?:\.\d+)?(?:e[-+]?\d+)?|'[^'\\\n]*'|None|True|False)"
FLAT = {
    "[": re.compile(rf"(?:\s*{_ITEM}\s*,){{0,16}}\s*(?:{_ITEM}\s*)?\]"),
    "(": re.compile(rf"(?:\s*{_ITEM}\s*,){{1,16}}\s*(?:{_ITEM}\s*)?\)|\s*\)"),
}
"""The rest of a short list or tuple of plain items, up to its closing bracket."""
_PLAIN = re.compile(r"(-?\d{1,18}(?:\.\d+)?(?:e[-+]?\d+)?)|'([^'\\\n]*)'|(None|True|False)")


def run_cost(items: list[Any], span: int) -> int:
    """What the items of a run cost beyond ``cost`` each: an int's object, a string's text."""
    if type(items[0]) is int:
        return 28 * sum(1 for item in items if not -5 <= item <= 256)
    return span if type(items[0]) is str else 0


def plain_items(text: str) -> list[Any]:
    """The items of ``text``, a run of plain items that :data:`FLAT` matched."""
    return [
        (float(number) if "." in number or "e" in number else int(number)) if number
        else NAMES[name] if name else body
        for number, body, name in _PLAIN.findall(text)
    ]  # fmt: skip
