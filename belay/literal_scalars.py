"""The scalars of a board's ``repr()``: numbers, strings and bytes, and the few names and calls
MicroPython prints for values that have no literal (``inf``, ``set()``, ...). Escapes are
decoded here, by a table: nothing is compiled or evaluated."""

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
