"""The device half's source files (``device/``), read as package data, never imported."""

from __future__ import annotations

import hashlib
import io
import tokenize
from functools import cache
from importlib import resources
from pathlib import Path

from belay import user_cache


@cache
def device_file(name: str) -> bytes:
    """The bytes of ``device/<name>``: from the installed wheel, else from a source checkout."""
    packaged = resources.files("belay").joinpath("_device", name)
    if packaged.is_file():
        return packaged.read_bytes()
    checkout = Path(__file__).resolve().parents[2] / "device" / name
    if checkout.is_file():
        return checkout.read_bytes()
    raise FileNotFoundError(f"device file {name!r} is missing from this installation")


MINIFIED_CACHE = "agent-minified.json"
"""The user-cache file that keeps minified sources, by the digest of the source and of this
module (so a change to either minifies again): tokenizing the agent costs ~25 ms a process."""
_MINIFIED_MOST = 16


def minify(source: bytes) -> bytes:
    """:func:`minified`, kept in the user's cache for the processes after this one."""
    key = hashlib.sha256(source + _this_minifier()).hexdigest()[:32]
    known = user_cache.read_entries(MINIFIED_CACHE)
    kept = known.get(key)
    if isinstance(kept, str):
        return kept.encode("utf-8")
    small = minified(source)
    user_cache.write_entries(MINIFIED_CACHE, {**known, key: small.decode("utf-8")}, most=_MINIFIED_MOST)
    return small


@cache
def _this_minifier() -> bytes:
    """This module's own bytes: a cached result is kept only for the minifier that made it."""
    return Path(__file__).read_bytes()


def minified(source: bytes) -> bytes:
    """``source`` in fewer bytes, for a slow line and a small flash: no comments nor blank
    lines, one space of indentation per level, and no space between tokens that do not need
    one (``n += 1`` is ``n+=1``). Where that fails, or what it makes does not compile, only the
    comment and blank lines go and the indentation shrinks."""
    try:
        small = _tokens_minified(source)
        compile(small, "<device>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, tokenize.TokenError):
        return _lines_minified(source)
    return small


_WORDS = (tokenize.NAME, tokenize.NUMBER)
_SKIPPED = (tokenize.COMMENT, tokenize.NL, tokenize.ENCODING, tokenize.ENDMARKER)


def _tokens_minified(source: bytes) -> bytes:
    lines: list[str] = []
    line: list[str] = []
    depth = 0
    previous: tokenize.TokenInfo | None = None
    for token in tokenize.tokenize(io.BytesIO(source).readline):
        if token.type in (tokenize.INDENT, tokenize.DEDENT):
            depth += 1 if token.type == tokenize.INDENT else -1
        elif token.type == tokenize.NEWLINE:
            lines.append(" " * depth + "".join(line))
            line, previous = [], None
        elif token.type not in _SKIPPED:
            if token.type not in (*_WORDS, tokenize.STRING, tokenize.OP):
                raise ValueError(f"a token this minifier does not know: {token}")  # an f-string's parts
            if previous is not None and _spaced(previous, token):
                line.append(" ")
            line.append(token.string)
            previous = token
    return ("\n".join(lines) + "\n").encode("utf-8")


def _spaced(before: tokenize.TokenInfo, after: tokenize.TokenInfo) -> bool:
    """Whether ``after`` needs a space after ``before``: between words and strings (``x in y``,
    ``else b''``), and before an attribute of a number (``1 .real``)."""
    if before.type in _WORDS and after.type in (*_WORDS, tokenize.STRING):
        return True
    if before.type == tokenize.STRING and after.type in _WORDS:
        return True
    return before.type == tokenize.NUMBER and after.string == "."


def _lines_minified(source: bytes) -> bytes:
    """Drop comment and blank lines and shrink indentation."""
    lines = []
    for line in source.decode("utf-8").splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            depth = (len(line) - len(line.lstrip(" "))) // 4
            lines.append(" " * depth + stripped)
    return ("\n".join(lines) + "\n").encode("utf-8")


@cache
def minified_device_file(name: str) -> bytes:
    """``device/<name>`` without its comments, for sending."""
    return minify(device_file(name))
