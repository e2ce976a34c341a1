"""Reading a board's ``repr()`` output back into a host value, bounded in time and memory.

A single-pass tokenizer and an explicit stack (no :mod:`ast`, no recursion): the text is
read once, the value is built as it goes, and its estimated host memory is counted against
``max_memory``. Only literal forms are accepted (plus the few non-literal spellings
MicroPython's ``repr`` uses: ``inf``/``nan``, ``set()``, ``bytearray(b'...')``,
``float('inf')``); nothing is ever evaluated. :func:`aloads` reads a large value in a worker
thread, within a deadline.
"""

from __future__ import annotations

import functools
import math
import re
import threading
import time
from typing import Any

import anyio.to_thread

from belay.errors import DeviceTimeoutError, DeviceValueError
from belay.literals.scalars import (
    CALLS,
    FLAT,
    NAMES,
    NO_ARGUMENT,
    NUMBER_RUNS,
    NUMBER_START,
    STRING_RUNS,
    number,
    plain_items,
    run_cost,
    string,
)

MAX_DEPTH = 100
MAX_TEXT = 16 * 1024 * 1024
MAX_MEMORY = 256 * 1024 * 1024
"""Estimated host bytes a value may take once read (a list of 16 M small ints would not)."""
INLINE_TEXT = 64 * 1024
"""Text up to this many characters is read on the event loop; longer text in a thread."""
_CHECK_EVERY = 8192  # tokens between deadline checks
_MISSES, _SKIP = 16, 256  # after this many places without a run, try none for the next _SKIP

_REAL = r"(?:(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|inf|nan)"
_TOKEN = re.compile(
    r"\s*(?:([\[\](){},:])"  # 1: punctuation
    rf"|([-+]?{_REAL}(?:[-+]{_REAL}j|j)?(?![\w.]))"  # 2: number
    r"|([bB]?(?:'[^'\\\n]*(?:\\.[^'\\\n]*)*'|\"[^\"\\\n]*(?:\\.[^\"\\\n]*)*\"))"  # 3: string
    r"|([A-Za-z_]\w*))"  # 4: name
)
_END = re.compile(r"\s*")
_CLOSE = {"[": "]", "(": ")", "{": "}"}
_EMPTY = object()  # what a frame's pending key is when there is none


def loads(
    text: str,
    *,
    deadline: float | None = None,
    max_memory: int = MAX_MEMORY,
    stop: threading.Event | None = None,
) -> Any:
    """The value a board wrote with ``repr()``.

    ``deadline`` is on :func:`time.monotonic`'s clock. Raises :class:`DeviceValueError` for
    text that is not a literal, too long, nested deeper than :data:`MAX_DEPTH` or larger than
    ``max_memory`` once read; :class:`DeviceTimeoutError` past ``deadline`` (or once ``stop``
    is set).
    """
    if len(text) > MAX_TEXT:
        raise DeviceValueError(f"value of {len(text)} characters exceeds {MAX_TEXT}", limit=MAX_TEXT)
    reader = _Reader(text, deadline, max_memory, stop)
    try:
        return reader.read()
    except DeviceValueError as error:
        if error.limit is None:  # a refusal of form: say where, and what
            message = f"board sent a value that is not a literal: {error} (in {text[:200]!r})"
            raise DeviceValueError(message) from None
        raise


async def aloads(text: str, *, timeout: float | None = None, max_memory: int = MAX_MEMORY) -> Any:
    """:func:`loads`, within ``timeout`` seconds, in a worker thread for long text (the event
    loop keeps running); cancelling the caller stops the read."""
    deadline = None if timeout is None or math.isinf(timeout) else time.monotonic() + timeout
    if len(text) <= INLINE_TEXT:
        return loads(text, deadline=deadline, max_memory=max_memory)
    stop = threading.Event()
    read = functools.partial(loads, text, deadline=deadline, max_memory=max_memory, stop=stop)
    try:
        return await anyio.to_thread.run_sync(read, abandon_on_cancel=True)
    finally:
        stop.set()


class _Reader:
    """One read: the tokens of ``text`` folded into a stack of open containers."""

    def __init__(self, text: str, deadline: float | None, max_memory: int, stop: threading.Event | None):
        self.text = text
        self.deadline = deadline
        self.memory_left = max_memory
        self.max_memory = max_memory
        self.stop = stop
        self.pos = 0
        self.tokens = 0
        self.next_check = _CHECK_EVERY
        self.run_misses = self.skip_runs = 0

    def read(self) -> Any:
        value = self.value(self.next())
        if _END.match(self.text, self.pos).end() != len(self.text):  # type: ignore[union-attr]
            raise DeviceValueError(f"text after the value at {self.pos}")
        return value

    def next(self) -> tuple[int, str]:
        """The next token, as ``(kind, text)``: kinds are the groups of :data:`_TOKEN`."""
        match = _TOKEN.match(self.text, self.pos)
        if match is None:
            raise DeviceValueError(f"unexpected text at {self.pos}")
        self.pos = match.end()
        self.tokens += 1
        if self.tokens >= self.next_check:
            self.check_time()
        kind = match.lastindex or 0
        return kind, match.group(kind)

    def check_time(self) -> None:
        self.next_check = self.tokens + _CHECK_EVERY
        late = self.deadline is not None and time.monotonic() > self.deadline
        if late or (self.stop is not None and self.stop.is_set()):
            raise DeviceTimeoutError(
                f"reading a {len(self.text)}-character value from the board ran out of time", timeout=None
            )

    def charge(self, cost: int) -> None:
        """Count ``cost`` estimated bytes; refuse the value past the bound."""
        self.memory_left -= cost
        if self.memory_left < 0:
            raise DeviceValueError(
                f"the board's value would take more than {self.max_memory} bytes of host memory",
                limit=self.max_memory,
            )

    def value(self, token: tuple[int, str]) -> Any:
        """The value starting at ``token``; containers are read with an explicit stack."""
        stack: list[_Frame] = []
        while True:
            kind, text = token
            if kind == 1 and text in FLAT and (flat := self.flat(text)) is not None:
                value = flat
            elif kind == 1 and text in _CLOSE:
                if len(stack) > MAX_DEPTH:
                    raise DeviceValueError(f"value nested deeper than {MAX_DEPTH} levels", limit=MAX_DEPTH)
                stack.append(frame := _Frame(text))
                token = self.run(frame)
                if token != (1, _CLOSE[text]):
                    continue
                value = stack.pop().close(self)
            else:
                value = self.scalar(kind, text)
            while stack:  # hand the value to the open container; close what ends here
                self.memory_left -= 8
                frame = stack[-1]
                if not frame.take(value, self.next()):
                    value = stack.pop().close(self)
                    continue
                token = self.run(frame)
                if not (token == (1, _CLOSE[frame.opener]) and frame.key is _EMPTY):
                    break
                value = stack.pop().close(self)  # after a trailing comma
            else:
                return value

    def flat(self, opener: str) -> list[Any] | tuple[Any, ...] | None:
        """A small list or tuple of plain items only (``(2, 'x')``), read whole at C speed; or
        ``None`` (the reader goes on token by token)."""
        match = FLAT[opener].match(self.text, self.pos)
        if match is None:
            return None
        items = plain_items(match.group())
        self.charge(56 + 8 * len(items) + 4 * (match.end() - self.pos))
        self.pos = match.end()
        self.tokens += 2 * len(items) + 1
        if self.tokens >= self.next_check:
            self.check_time()
        return items if opener == "[" else tuple(items)

    def run(self, frame: _Frame) -> tuple[int, str]:
        """Take a run of plain ints, floats or quoted strings, each with its comma, into
        ``frame`` at C speed (the bulk of a large value); return the token after it."""
        if self.skip_runs:  # a value of small containers: runs seldom pay
            self.skip_runs -= 1
            return self.next()
        text, pos = self.text, self.pos
        first = text[pos : pos + 2].lstrip()[:1]
        runs = NUMBER_RUNS if first in NUMBER_START else STRING_RUNS if first == "'" else ()
        if frame.opener == "{" and frame.colon is not False:
            runs = ()  # a dict, or not yet known to be a set
        for pattern, convert, cost in runs:
            match = pattern.match(text, pos)
            if match is not None:
                items = convert(match.group())
                self.charge(cost * len(items) + run_cost(items, match.end() - pos))
                frame.items.extend(items)
                frame.comma = True
                self.pos = match.end()
                self.tokens += 2 * len(items)
                if self.tokens >= self.next_check:
                    self.check_time()
                self.run_misses = 0
                break
        else:
            self.run_misses += 1
            if self.run_misses >= _MISSES:
                self.run_misses, self.skip_runs = 0, _SKIP
        return self.next()

    def scalar(self, kind: int, text: str) -> Any:
        if kind == 2:
            value = number(text)
            self.charge(0 if type(value) is int and -5 <= value <= 256 else 24 + len(text) // 2)
            return value
        if kind == 3:
            self.charge(49 + len(text))
            return string(text)
        if kind == 4:
            if text in NAMES:
                return NAMES[text]
            if text in CALLS and self.next() == (1, "("):
                return self.call(text)
            raise DeviceValueError(f"name {text[:40]!r} at {self.pos}")
        raise DeviceValueError(f"{text!r} at {self.pos}")

    def call(self, name: str) -> Any:
        """``set()``, ``bytearray(b'...')`` or ``float('inf')``: the opening paren was read."""
        kind, text = self.next()
        argument: Any = NO_ARGUMENT
        if kind in (2, 3):
            argument = self.scalar(kind, text)
            kind, text = self.next()
        if (kind, text) != (1, ")"):
            raise DeviceValueError(f"call of {name} at {self.pos}")
        value = CALLS[name](argument)
        self.charge(64 + len(value) if isinstance(value, bytearray) else 64)
        return value


class _Frame:
    """An open ``[``, ``(`` or ``{``: the items read so far, and what may come next."""

    __slots__ = ("colon", "comma", "items", "key", "opener")

    def __init__(self, opener: str) -> None:
        self.opener = opener
        self.items: list[Any] = []
        self.key: Any = _EMPTY
        self.comma = False  # a tuple's comma: (1,) is a tuple, (1) is 1
        self.colon: bool | None = None  # {...}: a dict (True) or a set (False), once known

    def take(self, value: Any, separator: tuple[int, str]) -> bool:
        """Take ``value`` and the token after it; ``False`` when that token closes the frame."""
        if self.opener != "{":
            self.items.append(value)
        elif self.key is not _EMPTY:
            self.items.append((self.key, value))
            self.key = _EMPTY
        elif separator == (1, ":") and self.colon is not False:
            self.colon, self.key = True, value
            return True
        elif self.colon:
            raise DeviceValueError("a dict item without its value")
        else:
            self.colon = False
            self.items.append(value)
        if separator == (1, _CLOSE[self.opener]):
            return False
        if separator != (1, ","):
            raise DeviceValueError(f"{separator[1][:40]!r} where ',' or {_CLOSE[self.opener]!r} belongs")
        self.comma = True
        return True

    def close(self, reader: _Reader) -> Any:
        reader.charge(56 if self.opener != "{" else 216 + 40 * len(self.items))
        if self.opener == "[":
            return self.items
        if self.opener == "(":
            return self.items[0] if len(self.items) == 1 and not self.comma else tuple(self.items)
        try:
            return set(self.items) if self.colon is False else dict(self.items)
        except TypeError as error:  # an unhashable set item or dict key: {[1]}
            raise DeviceValueError(f"impossible value: {error}") from None
