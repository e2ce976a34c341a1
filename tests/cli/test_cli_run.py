"""``belay run FILE [ARGS...]`` as a user runs it: a subprocess, real boards, exit statuses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

BELAY = [sys.executable, "-m", "belay"]


def belay(*args: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "BELAY_PORT"}
    return subprocess.run(
        [*BELAY, *args], capture_output=True, text=True, timeout=90, env=environ, check=False
    )


@pytest.fixture
def script(tmp_path: Path) -> Path:
    path = tmp_path / "show.py"
    path.write_text("import sys\nprint('name', __name__)\nprint('argv', sys.argv)\n")
    return path


def test_run_is_main_with_its_argv_and_leaves_the_board_as_it_was(served_board: str, script: Path) -> None:
    before = belay("exec", "-p", served_board, "--keep", "print(__import__('sys').argv)").stdout
    result = belay("run", "-p", served_board, str(script), "a", "--flag")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"name __main__\nargv [{str(script)!r}, 'a', '--flag']\n"
    assert belay("exec", "-p", served_board, "--keep", "print(__import__('sys').argv)").stdout == before
    assert belay("exec", "-p", served_board, "--keep", "print('sys' in globals())").stdout == "False\n"
    assert json.loads(belay("stats", "-p", served_board, "--json").stdout)["sessions"] == {}


def test_a_script_that_raises_exits_1_with_its_own_file_and_lines(tmp_path: Path) -> None:
    path = tmp_path / "fails.py"
    path.write_text("def f():\n    1/0\n\nprint('before')\nf()\n")
    result = belay("run", "-p", "unix", str(path))
    assert result.returncode == 1
    assert result.stdout == "before\n"
    assert f'File "{path}", line 2, in f' in result.stderr
    assert result.stderr.rstrip().endswith("ZeroDivisionError: divide by zero")


def test_timeout_exits_3(tmp_path: Path) -> None:
    path = tmp_path / "spin.py"
    path.write_text("while True:\n    pass\n")
    result = belay("run", "-p", "unix", "-t", "0.5", str(path))
    assert result.returncode == 3
    assert "did not finish within 0.5s" in result.stderr


def test_ctrl_c_interrupts_the_board_cleans_up_and_exits_130(served_board: str, tmp_path: Path) -> None:
    path = tmp_path / "long.py"
    path.write_text("import time\nx = 1\nprint('started')\ntime.sleep(60)\nprint('never')\n")
    process = subprocess.Popen([*BELAY, "run", "-p", served_board, str(path)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == "started\n"
        interrupted = time.monotonic()
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
        assert time.monotonic() - interrupted < 10
        assert process.returncode == 130
        assert "interrupted" in err
        assert "Traceback" not in err
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert json.loads(belay("stats", "-p", served_board, "--json").stdout)["sessions"] == {}
    assert belay("exec", "-p", served_board, "print('alive')").stdout == "alive\n"


def test_keep_runs_in_the_repl_namespace(served_board: str, tmp_path: Path) -> None:
    path = tmp_path / "setz.py"
    path.write_text("z = 6 * 7\n")
    result = belay("run", "-p", served_board, "--keep", str(path))
    assert (result.returncode, result.stderr) == (0, "")
    assert belay("exec", "-p", served_board, "--keep", "print(z)").stdout == "42\n"


def test_keep_on_unix_says_each_run_starts_a_fresh_board(script: Path) -> None:
    result = belay("run", "-p", "unix", "--keep", str(script))
    assert result.returncode == 0
    assert "starts a fresh board" in result.stderr
    assert "belay virtual-board" in result.stderr
    assert "fresh board" in belay("exec", "-p", "unix", "--keep", "pass").stderr


@pytest.mark.microbit
def test_run_on_the_microbit_which_has_no_argv(tmp_path: Path) -> None:
    path = tmp_path / "mb.py"
    path.write_text("import sys\nprint(__name__, hasattr(sys, 'argv'))\n")
    result = belay("run", "-p", "microbit", str(path), "one")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "__main__ False\n"
    assert "no sys.argv" in result.stderr


def test_a_missing_script_is_one_line_exit_2(tmp_path: Path) -> None:
    result = belay("run", "-p", "unix", str(tmp_path / "nope.py"))
    assert result.returncode == 2
    assert result.stderr == f"belay: error: cannot read {tmp_path / 'nope.py'}: No such file or directory\n"


BIG_SCRIPT = (
    "# a 2.4 KB script: more than one call carries on the micro:bit\n"
    + "".join(f"value_{i:02d} = {i} * 2  # the {i:02d}th value, kept for later\n" for i in range(40))
    + "def keep(function):\n    return function\n\n\n"
    + "@keep\ndef total():\n    return sum(globals()['value_%02d' % i] for i in range(40))\n\n\n"
    + "class Tally:\n    def __init__(self):\n        self.count = total()\n\n\n"
    + "".join(f"check_{i:02d} = value_{i:02d} == {i} * 2\n" for i in range(15))
    + "if __name__ == '__main__':\n    print('total', Tally().count, check_14)\n    1 / 0\n"
)


@pytest.mark.microbit
def test_a_long_script_runs_on_the_microbit_in_pieces_with_its_own_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "long.py"
    path.write_text(BIG_SCRIPT)
    assert len(BIG_SCRIPT) > 2300
    result = belay("run", "-p", "microbit", str(path))
    assert result.returncode == 1, result.stderr
    assert result.stdout == "total 1560 True\n"
    last_line = BIG_SCRIPT.count("\n")
    assert f'File "{path}", line {last_line}' in result.stderr, result.stderr
    assert "ZeroDivisionError" in result.stderr and "MemoryError" not in result.stderr
