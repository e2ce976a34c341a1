"""The README's quick start is what CI runs, and it stays exactly two commands; the table of
what belay leaves on a board (docs/sessions.md) is what a board holds."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from belay import DeviceSessionManager, SessionOptions

ROOT = Path(__file__).resolve().parent.parent


def quick_start_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None, "the quick start has no ```sh block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_quick_start_is_two_commands() -> None:
    commands = quick_start_commands()
    assert len(commands) == 2
    assert "belay exec" in commands[0] and "--port unix" in commands[0]


def test_ci_runs_the_quick_start_verbatim() -> None:
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    for command in quick_start_commands():
        assert command in ci, f"CI does not run the README command {command!r}"


FOOTPRINT_PAGE = ROOT / "docs" / "sessions.md"
FOOTPRINT_ROW = "| the agent's files: "
SIZE = re.compile(r"`(\w+\.py)` \((\d+\.\d) KB\)")
TOTAL = re.compile(r"(\d+\.\d) KB in all on the micro:bit, (\d+\.\d) KB on the unix port")
LISTING = (
    "import os\n"
    "_fp = [(n, os.size(n) if hasattr(os, 'size') else os.stat(n)[6]) for n in os.listdir() "
    "if n.startswith('belay_' + 'agent')]"
)


def _close(stated: str, measured: int) -> bool:
    """A size the README states (KB, one decimal) is the measured one, give or take 10%."""
    return abs(float(stated) * 1024 - measured) <= 0.1 * measured + 52


@pytest.mark.anyio
@pytest.mark.parametrize("board", ["unix", pytest.param("microbit", marks=pytest.mark.microbit)])
async def test_the_footprint_table_names_every_agent_file_and_its_size(board: str) -> None:
    """Measured on the board after a session: every agent file is in the table, with its size,
    and the total is the one stated for that board."""
    row = next(line for line in FOOTPRINT_PAGE.read_text().splitlines() if line.startswith(FOOTPRINT_ROW))
    stated = dict(SIZE.findall(row))
    totals = TOTAL.search(row)
    assert totals is not None, row
    async with (
        DeviceSessionManager(SessionOptions(call_timeout=30)) as manager,
        manager.session(board) as session,
    ):
        await session.exec(LISTING)
        found: dict[str, int] = dict(await session.eval("_fp"))
    threads = "belay_" + "agent_threads.py"
    assert set(found) == set(stated) - ({threads} if board == "microbit" else set())
    for name, size in found.items():
        assert _close(stated[name], size), (
            f"{name}: docs/sessions.md says {stated[name]} KB, the board has {size} B"
        )
    total = totals.group(1) if board == "microbit" else totals.group(2)
    assert _close(total, sum(found.values())), f"{board}: {total} KB stated, {sum(found.values())} B found"
