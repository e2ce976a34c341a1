"""What a sync leaves out: belay's defaults, a ``.belayignore`` (gitignore syntax), ``exclude``
and ``include`` globs.

By default a sync leaves out what no board wants (:data:`DEFAULTS`): version control
(``.git``, ``.gitignore``, ``.github``, ``.hg``, ``.svn``, ``.bzr``), virtual environments
(``.venv``, ``venv`` and any folder holding a ``pyvenv.cfg``), Python and tool caches
(``__pycache__``, ``*.pyc``, ``.mypy_cache``, ...), editor files (``.vscode``, ``.idea``,
``*.swp``, ``.DS_Store``) and the ``.belayignore`` itself.

A ``.belayignore`` at the synced folder's root adds lines in gitignore syntax: ``#``
comments, ``!`` to take a path back (``!.vscode`` sends it after all), a trailing ``/`` for
folders only, a ``/`` at the start or in the middle anchors a pattern to the folder's root
(else it matches a name at any depth), ``*``, ``?``, ``[...]`` and ``**``. The last line that
matches a path decides, as in git, and what is in a folder left out is left out too.
``exclude`` globs (``fnmatch``, on the relative path or any one name in it) then leave out
more, and ``include`` globs (the same) take back anything the rest left out.

A leaf: it imports nothing of belay.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass

IGNORE_FILE = ".belayignore"

DEFAULTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("version control", (".git*", ".hg*", ".svn/", ".bzr/")),
    ("virtual environment", (".venv/", "venv/")),
    (
        "Python cache",
        ("__pycache__/", "*.py[co]", ".mypy_cache/", ".pytest_cache/", ".ruff_cache/", ".tox/", ".nox/"),
    ),
    ("editor file", (".vscode/", ".idea/", "*.swp", "*~", ".DS_Store")),
    ("belay's own", (IGNORE_FILE,)),
)
"""What no board wants, by why: gitignore patterns."""

VENV_MARK = "pyvenv.cfg"
"""A folder holding this file is a virtual environment, whatever its name."""


@dataclass(frozen=True, slots=True)
class Rule:
    """One gitignore line: matches a path (relative, ``/``-separated) or not."""

    pattern: re.Pattern[str]
    negated: bool
    folders_only: bool
    why: str

    def matches(self, path: str, is_dir: bool) -> bool:
        return (is_dir or not self.folders_only) and self.pattern.fullmatch(path) is not None


def _class(pattern: str, start: int) -> tuple[str, int]:
    """The regex of the ``[...]`` class at ``start`` and the index after it (a lone ``[``
    is a character)."""
    end = pattern.find("]", start + 2 if pattern[start + 1 : start + 2] in ("!", "^", "]") else start + 1)
    if end < 0:
        return re.escape("["), start + 1
    body = pattern[start + 1 : end]
    if body[:1] in ("!", "^"):
        body = "^" + body[1:]
    return "[" + body.replace("\\", "\\\\") + "]", end + 1


def _regex(pattern: str) -> str:
    """The regex of one gitignore pattern (no ``!``, no trailing ``/``)."""
    anchored = "/" in pattern
    text, out, index = pattern.lstrip("/"), [], 0
    while index < len(text):
        if text.startswith("**/", index):
            out.append("(?:.*/)?")
            index += 3
        elif text.startswith("/**", index) and index + 3 == len(text):
            out.append("/.*")
            index += 3
        elif text.startswith("**", index):
            out.append(".*")
            index += 2
        elif text[index] in "*?":
            out.append("[^/]*" if text[index] == "*" else "[^/]")
            index += 1
        elif text[index] == "[":
            regex, index = _class(text, index)
            out.append(regex)
        else:
            escaped = text[index] == "\\" and index + 1 < len(text)
            out.append(re.escape(text[index + 1] if escaped else text[index]))
            index += 2 if escaped else 1
    return ("" if anchored else "(?:.*/)?") + "".join(out)


def parse(lines: Iterable[str], why: str) -> list[Rule]:
    """The rules of gitignore ``lines`` (blank lines and ``#`` comments skipped)."""
    rules = []
    for raw in lines:
        line = raw.rstrip("\n").rstrip(" ") if not raw.rstrip("\n").endswith("\\ ") else raw.rstrip("\n")
        if not line or line.startswith("#"):
            continue
        negated = line.startswith("!")
        line = line[1:] if negated else line.removeprefix("\\")
        folders_only = line.endswith("/")
        line = line.rstrip("/")
        if line:
            rules.append(Rule(re.compile(_regex(line)), negated, folders_only, why))
    return rules


def default_rules() -> list[Rule]:
    return [rule for why, patterns in DEFAULTS for rule in parse(patterns, f"left out by default ({why})")]


def matches_glob(path: str, patterns: Iterable[str]) -> bool:
    """Whether ``path`` (relative, ``/``-separated) or one of its names matches a glob."""
    names = path.split("/")
    return any(fnmatch.fnmatchcase(path, pattern) or any(fnmatch.fnmatchcase(name, pattern) for name in names)
               for pattern in patterns)  # fmt: skip


@dataclass(frozen=True)
class Ignore:
    """Every rule of one sync: :meth:`why` a path is left out, or ``None``."""

    rules: tuple[Rule, ...] = ()
    exclude: tuple[str, ...] = ()
    include: tuple[str, ...] = ()

    @classmethod
    def build(cls, belayignore: str | None, exclude: Iterable[str] = (), include: Iterable[str] = (),
              *, defaults: bool = True) -> Ignore:  # fmt: skip
        """The rules: the defaults, then ``belayignore``'s lines (its text, if there is one)."""
        rules = default_rules() if defaults else []
        if belayignore is not None:
            rules += parse(belayignore.splitlines(), f"ignored by {IGNORE_FILE}")
        return cls(tuple(rules), tuple(exclude), tuple(include))

    def why(self, path: str, is_dir: bool, *, venv: bool = False) -> str | None:
        """Why ``path`` is left out (its folder is not: the caller walks from the top), or
        ``None``; ``venv``: the folder holds a ``pyvenv.cfg``."""
        if self.include and matches_glob(path, self.include):
            return None
        if self.exclude and matches_glob(path, self.exclude):
            return "excluded"
        found = "left out by default (virtual environment)" if venv else None
        for rule in self.rules:
            if rule.matches(path, is_dir):
                found = None if rule.negated else rule.why
        return found

    def why_on_board(self, path: str, is_dir: bool) -> str | None:
        """Why board ``path`` (relative to the synced folder) is left alone: it, or a folder
        it is in, is left out."""
        parts = path.split("/")
        for end in range(1, len(parts) + 1):
            why = self.why("/".join(parts[:end]), is_dir or end < len(parts))
            if why is not None:
                return why
        return None


__all__ = ["DEFAULTS", "IGNORE_FILE", "Ignore", "Rule", "matches_glob", "parse"]
