"""When belay lets go of a board (a command ends, a manager closes, a pytest run ends), the
board is left at its friendly REPL, as mpremote leaves it: the next tool (a terminal, ``screen``,
Thonny, ``mpremote repl``) gets a prompt when Enter is pressed, with nothing reset."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from virtual_boards import answer_to_return, mpremote_repl_answer, served_virtual_board

from belay import DeviceSessionManager, SessionOptions

BELAY = [sys.executable, "-m", "belay"]
PROMPT = b">>> "
KINDS = ["unix", pytest.param("microbit", marks=pytest.mark.microbit)]


def belay(*args: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "BELAY_PORT"}
    return subprocess.run(
        [*BELAY, *args], capture_output=True, text=True, timeout=90, env=environ, check=False
    )


@pytest.fixture(scope="module", params=KINDS)
def served(request: pytest.FixtureRequest) -> Iterator[str]:
    with served_virtual_board(request.param) as path:
        yield path


@pytest.mark.parametrize(
    "command",
    [
        ["exec", "x = 1"],
        ["exec", "--keep", "y = 2"],
        ["exec", "-t", "0.5", "while True: pass"],
        ["info"],
        ["stats"],
        ["reap"],
        ["fs", "ls"],
        ["reset"],
    ],
    ids=lambda command: "-".join(command[:2]),
)
def test_after_each_command_enter_gets_the_friendly_prompt(served: str, command: list[str]) -> None:
    result = belay(*command, "-p", served)
    assert result.returncode in (0, 3), result.stderr
    assert answer_to_return(served).endswith(PROMPT)


def test_after_run_enter_gets_the_friendly_prompt(served: str, tmp_path: Path) -> None:
    script = tmp_path / "hello.py"
    script.write_text("print('hello')\n")
    assert belay("run", "-p", served, str(script)).stdout == "hello\n"
    assert answer_to_return(served).endswith(PROMPT)


def test_mpremote_repl_shows_the_prompt_after_belay(served: str) -> None:
    assert belay("exec", "-p", served, "x = 1").returncode == 0
    assert PROMPT in mpremote_repl_answer(served)
    assert belay("exec", "-p", served, "print('back')").stdout == "back\n"  # and belay gets it back


@pytest.mark.anyio
async def test_a_closed_manager_leaves_the_prompt(served: str) -> None:
    async with DeviceSessionManager(SessionOptions()) as manager, manager.session(served) as session:
        assert await session.eval("1 + 1") == 2
    assert (await anyio.to_thread.run_sync(answer_to_return, served)).endswith(PROMPT)


def test_letting_go_resets_nothing_and_threads_keep_running() -> None:
    with served_virtual_board("unix") as path:
        started = belay(
            "exec", "-p", path, "--keep",
            "import _thread, time\nticks = [0]\ndef count():\n    while True:\n"
            "        ticks[0] += 1\n        time.sleep_ms(2)\n_thread.start_new_thread(count, ())",
        )  # fmt: skip
        assert started.returncode == 0, started.stderr
        assert answer_to_return(path).endswith(PROMPT)
        first = int(belay("exec", "-p", path, "--keep", "print(ticks[0])").stdout)
        assert answer_to_return(path).endswith(PROMPT)
        assert int(belay("exec", "-p", path, "--keep", "time.sleep_ms(50)\nprint(ticks[0])").stdout) > first


def test_a_pytest_run_leaves_the_prompt(served: str, tmp_path: Path) -> None:
    (tmp_path / "test_board.py").write_text(
        "import pytest\n\n@pytest.mark.anyio\nasync def test_two(belay_session):\n"
        "    assert await belay_session.eval('1 + 1') == 2\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "--belay-port", served, "."],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-2000:]
    assert answer_to_return(served).endswith(PROMPT)
