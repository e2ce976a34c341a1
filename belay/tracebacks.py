"""Board tracebacks mapped back to the host code they came from.

Code a session deploys runs on the board from a string, so its frames read ``File "<string>",
line 3, in f``: line 3 of the code sent, not of the host file the function was written in. And
between the test and the code sit belay's own frames: the raw REPL's ``<stdin>`` call and the
agent's ``belay_agent*.py`` functions. :func:`map_traceback` rewrites such a traceback as if the
code had run on the host::

    >>> text = '''Traceback (most recent call last):
    ...   File "<stdin>", line 1, in <module>
    ...   File "belay_agent.py", line 60, in c
    ...   File "<string>", line 3, in f
    ... ZeroDivisionError: divide by zero'''
    >>> print(map_traceback(text, {"f": CodeOrigin("/src/test_x.py", 10)}))
    Traceback (most recent call last):
      File "/src/test_x.py", line 12, in f
    ZeroDivisionError: divide by zero

and :func:`add_source_lines` adds the host line under each mapped frame, as CPython does.

Both take the text a board printed, with CRLF (the micro:bit's MicroPython 1.9.2) or LF line
endings, and return it with LF. :func:`map_traceback` is pure; :func:`add_source_lines` reads
host files through :mod:`linecache`.
"""

from __future__ import annotations

import linecache
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath

from belay.agent import names

__all__ = ["CodeOrigin", "add_source_lines", "is_agent_file", "map_traceback", "tidy"]

_FRAME = re.compile(r'^(?P<indent>\s*)File "(?P<file>[^"]*)", line (?P<line>\d+)(?:, in (?P<name>.*))?$')
_STRING = "<string>"
_STDIN = "<stdin>"
_MODULE = "<module>"


@dataclass(frozen=True, slots=True)
class CodeOrigin:
    """Where code sent to the board came from on the host.

    ``file`` is the host path shown in the mapped frame; ``first_line`` the host line number of
    line 1 of the code sent (so line ``n`` of ``<string>`` maps to ``first_line + n - 1``).
    """

    file: str
    first_line: int

    def __post_init__(self) -> None:
        if self.first_line < 1:
            raise ValueError(f"first_line is a line number (1 or more), not {self.first_line}")

    def line(self, board_line: int) -> int:
        """The host line of line ``board_line`` of the code sent."""
        return self.first_line + board_line - 1


@dataclass(frozen=True, slots=True)
class _Frame:
    indent: str
    file: str
    line: int
    name: str | None

    def text(self) -> str:
        where = f'{self.indent}File "{self.file}", line {self.line}'
        return where if self.name is None else f"{where}, in {self.name}"


def tidy(text: str) -> str:
    """``text`` with LF line endings (a board may send CRLF, or a stray CR) and no trailing blanks."""
    return text.replace("\r\n", "\n").replace("\r", "\n").rstrip()


def is_agent_file(file: str) -> bool:
    """Whether ``file`` (as a board names it) is one of belay's agent modules."""
    return names.is_agent_file(PurePosixPath(file).name)


def _parse(line: str) -> _Frame | str:
    match = _FRAME.match(line)
    if match is None:
        return line
    return _Frame(match["indent"], match["file"], int(match["line"]), match["name"])


def _belay_frames(frames: list[_Frame]) -> set[int]:
    """Indexes of belay's own frames: the agent's, and a ``<stdin>`` frame that called into the
    agent or into code sent as a string (the raw REPL's call, not the user's code)."""
    own = {i for i, frame in enumerate(frames) if is_agent_file(frame.file)}
    for i, frame in enumerate(frames[:-1]):
        after = frames[i + 1]
        if frame.file == _STDIN and (i + 1 in own or after.file == _STRING):
            own.add(i)
    return own


def _mapped(frame: _Frame, origins: Mapping[str, CodeOrigin], script: CodeOrigin | None) -> _Frame:
    if frame.file != _STRING or frame.name is None:
        return frame
    # A script's own functions are <string> frames too: they map to the script unless the
    # name is a deployed function's.
    origin = script if frame.name == _MODULE else origins.get(frame.name, script)
    if origin is None:
        return frame
    return _Frame(frame.indent, origin.file, origin.line(frame.line), frame.name)


def map_traceback(text: str, origins: Mapping[str, CodeOrigin], script: CodeOrigin | None = None) -> str:
    """The board's traceback ``text`` rewritten to name the host code it ran.

    - A ``File "<string>", line N, in NAME`` frame of a function in ``origins`` (deployed
      functions, by name) reads ``File "<origin.file>", line <origin.first_line + N - 1>, in NAME``;
      any other ``<string>`` frame (``in <module>``, or in a function the script defined) is
      mapped with ``script`` (code run from a file), if given.
    - belay's own frames are left out: the agent's (``belay_agent*.py``), and the raw REPL's
      ``<stdin>`` frame where it called the agent or code sent as a string. When the exception was
      raised in belay's own frames (the innermost frame is the agent's), they are kept: they are
      then what explains the error.
    - Every other line (unknown frames, the header, the exception line) stays as it is.

    The result has LF line endings and no trailing newline.
    """
    lines = [_parse(line) for line in tidy(text).split("\n")]
    at = [i for i, line in enumerate(lines) if isinstance(line, _Frame)]
    frames = [line for line in lines if isinstance(line, _Frame)]
    dropped: set[int] = set()
    if frames and not is_agent_file(frames[-1].file):
        dropped = {at[i] for i in _belay_frames(frames)}
    out = []
    for i, line in enumerate(lines):
        if isinstance(line, str):
            out.append(line)
        elif i not in dropped:
            out.append(_mapped(line, origins, script).text())
    return "\n".join(out)


def add_source_lines(text: str, files: Iterable[str]) -> str:
    """``text`` with the host source line under each frame in one of ``files``, like CPython.

    Only frames naming one of ``files`` get a line (pass the files of the origins given to
    :func:`map_traceback`): a board's own file names (``main.py``) may name some other file on
    the host. A frame already followed by its source line, or whose line cannot be read, is left
    as it is. The result has LF line endings and no trailing newline.
    """
    wanted = set(files)
    lines = tidy(text).split("\n")
    out = []
    for i, line in enumerate(lines):
        out.append(line)
        frame = _parse(line)
        if not isinstance(frame, _Frame) or frame.file not in wanted:
            continue
        following = lines[i + 1] if i + 1 < len(lines) else ""
        if following.startswith(frame.indent + "  ") and _parse(following) == following:
            continue  # the source line is there already
        source = linecache.getline(frame.file, frame.line).strip()
        if source:
            out.append(f"{frame.indent}  {source}")
    return "\n".join(out)
