"""Every Python and shell example in the README and ``docs/`` runs, as a reader would run it.

Each fenced ``python`` or ``sh`` block is one test (``README.md:123``), run in a process of its
own in a fresh folder holding a few files the examples use (``main.py``, ``blink.py``,
``src/``). A ``toml`` block must parse. Other blocks (``text``, ``console``, ``yaml``) are
output or configuration for other tools, and are not run.

- A **shell** block runs under ``bash -e`` with ``.venv/bin`` first on ``PATH`` and
  ``$BELAY_PORT`` set to a ``belay virtual-board`` (a unix board that lasts for the block, as a
  board on a desk does): so ``belay fs cp`` then ``belay fs cat`` see the same files. A command
  that names ``--port unix`` gets a fresh board of its own, as it would for a reader.
- A **Python** block runs as a script.
- A block that names the ``microbit`` board runs on it, and skips where QEMU or its firmware
  is missing, as the rest of the suite does.

An HTML comment on the line before a block (invisible on the site) says how to run it:

- ``<!-- test: skip REASON -->``: not run (a real ``/dev/ttyACM0``, a network, a loop that
  never ends); the page shows its ``unix`` twin beside it.
- ``<!-- test: in-session -->``: a Python fragment run inside
  ``async with manager.session("unix") as session:`` (the page says so).
- ``<!-- test: pytest -->``: a Python block that is a test file, run by pytest with
  ``--belay-port unix``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from virtual_boards import served_virtual_board

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RUN = ("python", "sh", "toml")
TIMEOUT = 120

# Pages other work owns, whose blocks cannot run here; say why, page by page.
PAGE_SKIPS = {
    "docs/lab.md": "needs a labgrid coordinator, exporter and places: tests/lab/ runs these against a lab",
}

FENCE = re.compile(
    r"^(?P<indent>[ \t]*)```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.S | re.M
)
DIRECTIVE = re.compile(r"<!--\s*test:\s*(?P<what>[\w-]+)\s*(?P<why>.*?)\s*-->\s*$")
MICROBIT = re.compile(r"(--(belay-)?port[ =]microbit\b|[\"']microbit[\"'])")

SESSION = """\
import anyio
from belay import DeviceSessionManager, SessionOptions


async def main() -> None:
    async with DeviceSessionManager(SessionOptions()) as manager:
        async with manager.session("unix") as session:
{body}

anyio.run(main)
"""

FIXTURES = {
    "main.py": "print('hello from main.py')\n",
    "blink.py": "import sys\nprint('blink', sys.argv[1:])\n",
    "src/app.py": "import util\nprint('app says', util.twice(21))\n",
    "src/util.py": "def twice(x):\n    return 2 * x\n",
    "src/main.py": "print('hello from src/main.py')\n",
}


@dataclass(frozen=True)
class Snippet:
    page: str
    line: int
    lang: str
    code: str
    directive: str = ""
    why: str = ""

    @property
    def id(self) -> str:
        return f"{self.page}:{self.line}"


def snippets(page: Path) -> list[Snippet]:
    text = page.read_text()
    name = page.relative_to(ROOT).as_posix()
    found = []
    for match in FENCE.finditer(text):
        if match.group("lang") not in RUN:
            continue
        line = text.count("\n", 0, match.start()) + 1
        before = text[: match.start()].rstrip().rsplit("\n", 1)[-1]
        directive = DIRECTIVE.search(before)
        code = textwrap.dedent(match.group("body"))
        what, why = (directive.group("what"), directive.group("why")) if directive else ("", "")
        found.append(Snippet(name, line, match.group("lang"), code, what, why))
    return found


ALL = [snippet for page in PAGES for snippet in snippets(page)]


def _param(snippet: Snippet) -> object:
    marks: list[pytest.MarkDecorator] = []
    if snippet.page in PAGE_SKIPS:
        marks.append(pytest.mark.skip(reason=PAGE_SKIPS[snippet.page]))
    elif snippet.directive == "skip":
        marks.append(pytest.mark.skip(reason=snippet.why or "marked skip on the page"))
    if MICROBIT.search(snippet.code):
        marks.append(pytest.mark.microbit)
    return pytest.param(snippet, id=snippet.id, marks=marks)


def _folder(tmp_path: Path) -> Path:
    for name, text in FIXTURES.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


def _env(tmp_path: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("BELAY_", "PYTEST_"))}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["BELAY_JOURNAL_PATH"] = str(tmp_path / "journal.jsonl")
    env["PYTHONUNBUFFERED"] = "1"
    return env


def _check(result: subprocess.CompletedProcess[str], snippet: Snippet) -> None:
    assert result.returncode == 0, (
        f"{snippet.id} exited with {result.returncode}\n--- code\n{snippet.code}"
        f"--- stdout\n{result.stdout[-3000:]}\n--- stderr\n{result.stderr[-3000:]}"
    )


def run_shell(snippet: Snippet, tmp_path: Path) -> None:
    env = _env(tmp_path)
    with served_virtual_board("unix") as path:
        env["BELAY_PORT"] = path
        result = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", snippet.code],
            cwd=_folder(tmp_path), env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False,
        )  # fmt: skip
    _check(result, snippet)


def run_python(snippet: Snippet, tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    code = snippet.code
    if snippet.directive == "in-session":
        code = SESSION.format(body=textwrap.indent(code, " " * 12))
    name = "test_snippet.py" if snippet.directive == "pytest" else "snippet.py"
    (folder / name).write_text(code)
    command = [sys.executable, name]
    if snippet.directive == "pytest":
        command = [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--belay-port",
            "unix",
            name,
        ]
    result = subprocess.run(
        command, cwd=folder, env=_env(tmp_path), capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    _check(result, snippet)


def test_every_page_has_its_snippets_found() -> None:
    """The collector sees the blocks (a fence it cannot read would silently test nothing)."""
    assert len(ALL) > 20
    for page in PAGES:
        opened = sum(1 for line in page.read_text().splitlines() if line.lstrip().startswith("```"))
        assert opened % 2 == 0, f"{page}: an unclosed ``` fence"


@pytest.mark.parametrize("snippet", [_param(snippet) for snippet in ALL])
def test_snippet_runs(snippet: Snippet, tmp_path: Path) -> None:
    if snippet.lang == "toml":
        tomllib.loads(snippet.code)
    elif snippet.lang == "sh":
        run_shell(snippet, tmp_path)
    else:
        run_python(snippet, tmp_path)
