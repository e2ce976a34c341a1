"""What crosses the wire in a call, one way and back: code as bytes, the value a call
printed, the exception a board's traceback names."""

from __future__ import annotations

import ast
import functools
from typing import Any

from belay import literals
from belay.errors import DeviceExecError, DeviceValueError
from belay.link import CallResult
from belay.protocol.raw_repl import MAX_ERROR_BYTES


def encode_code(code: str | bytes) -> bytes:
    """The bytes of ``code``; text that cannot be UTF-8 (a lone surrogate) is refused."""
    if not isinstance(code, str):
        return bytes(code)
    try:
        return code.encode("utf-8")
    except UnicodeEncodeError as error:
        raise DeviceValueError(
            f"code is not valid text: {error.reason} at position {error.start} "
            f"({code[error.start : error.end]!r})"
        ) from None


async def read_last_line_value(result: CallResult, *, timeout: float | None = None) -> Any:
    """The Python literal on the last line a call printed (never evaluated as code), within
    ``timeout`` seconds, a long value off the event loop. Raises :class:`DeviceValueError` when
    there is none, or it is not a literal or too large, and
    :class:`~belay.errors.DeviceTimeoutError` when reading it takes longer. (Values the agent
    answers are marked and read by :mod:`belay.agent.answers` instead.)"""
    return await literals.aloads(_last_line(result), timeout=timeout)


def _last_line(result: CallResult) -> str:
    """The last line printed; bytes that are not UTF-8 become lone surrogates
    (``surrogateescape``), so a string the board holds comes back as it was."""
    if result.output_truncated:
        raise DeviceValueError("the value printed by the board exceeded the output limit")
    lines = result.output.decode("utf-8", "surrogateescape").strip().splitlines()
    if not lines:
        raise DeviceValueError("the board printed no value")
    return lines[-1]


def not_an_expression(expression: str) -> str | None:
    """Why ``expression`` is not one (``None``: it is); short ones are remembered (they recur)."""
    return _parse_problem_cached(expression) if len(expression) <= 200 else _parse_problem(expression)


def _parse_problem(expression: str) -> str | None:
    try:
        ast.parse(expression, mode="eval")
    except SyntaxError as error:
        return f"not an expression: {expression[:200]!r} ({error.msg})"
    return None


_parse_problem_cached = functools.lru_cache(maxsize=256)(_parse_problem)


def remote_error(error: bytes, *, truncated: bool = False) -> DeviceExecError:
    """The exception a board's traceback text describes (cut at the protocol's bound if ``truncated``)."""
    return DeviceExecError.from_traceback(error, truncated_at=MAX_ERROR_BYTES if truncated else None)
