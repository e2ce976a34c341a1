"""The ``belay`` command, run as a user runs it: a subprocess, real boards, exit statuses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from virtual_boards import mpremote_exec, served_virtual_board

BELAY = [sys.executable, "-m", "belay"]


def belay(
    *args: str, stdin: str | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "BELAY_PORT"}
    environ.update(env or {})
    return subprocess.run(
        [*BELAY, *args], input=stdin, capture_output=True, text=True, timeout=60, env=environ, check=False
    )


def test_exec_prints_from_the_unix_board() -> None:
    result = belay("exec", "--port", "unix", "print(1+1)")
    assert (result.returncode, result.stdout) == (0, "2\n")


def test_exec_defaults_to_the_unix_board_and_says_so() -> None:
    result = belay("exec", "print(1+1)")
    assert result.returncode == 0
    assert result.stdout == "2\n"
    assert "unix virtual board" in result.stderr


def test_belay_port_variable_is_the_default() -> None:
    result = belay("exec", "import sys; print(sys.platform)", env={"BELAY_PORT": "unix"})
    assert (result.returncode, result.stdout, result.stderr) == (0, "linux\n", "")


def test_exec_reads_a_file_and_stdin(tmp_path: Path) -> None:
    script = tmp_path / "main.py"
    script.write_text("for i in range(3):\n    print(i)\n")
    assert belay("exec", "-p", "unix", "-f", str(script)).stdout == "0\n1\n2\n"
    assert belay("exec", "-p", "unix", "-", stdin="print('piped')").stdout == "piped\n"


def test_remote_exception_exits_1_with_the_board_traceback() -> None:
    result = belay("exec", "-p", "unix", "print('before')\n1/0")
    assert result.returncode == 1
    assert result.stdout == "before\n"
    assert "ZeroDivisionError: divide by zero" in result.stderr
    assert 'File "<stdin>"' in result.stderr  # the board's traceback, not the host's
    assert "belay/cli.py" not in result.stderr
    assert "belay_agent" not in result.stderr  # nor the session's plumbing on the board


def test_traceback_line_numbers_are_the_codes_own() -> None:
    result = belay("exec", "-p", "unix", "def g():\n    1/0\n\ng()")
    assert result.returncode == 1
    assert result.stderr.splitlines()[1:] == [
        '  File "<stdin>", line 4, in <module>',
        '  File "<stdin>", line 2, in g',
        "ZeroDivisionError: divide by zero",
    ]


def test_output_streams_while_the_code_still_runs() -> None:
    code = "import time\nprint('first')\ntime.sleep(3)\nprint('second')"
    process = subprocess.Popen([*BELAY, "exec", "-p", "unix", code], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == "first\n"
        assert process.poll() is None  # 'first' came while the code was sleeping
        assert process.stdout.read() == "second\n"
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()
        process.wait()


def test_exec_runs_in_a_session_that_is_gone_afterwards(served_board: str) -> None:
    code = "x = 41\nprint(x + 1)"
    assert belay("exec", "-p", served_board, code).stdout == "42\n"
    assert belay("exec", "-p", served_board, "--keep", "print('x' in globals())").stdout == "False\n"
    stats = json.loads(belay("stats", "-p", served_board, "--json").stdout)
    assert stats["sessions"] == {}


def test_exec_keep_runs_in_the_repl_namespace_and_leaves_it(served_board: str) -> None:
    assert belay("exec", "-p", served_board, "--keep", "y = 6 * 7").returncode == 0
    assert belay("exec", "-p", served_board, "--keep", "print(y)").stdout == "42\n"


def test_timeout_is_the_codes_and_the_board_is_usable_after(served_board: str) -> None:
    started = time.monotonic()
    result = belay("exec", "-p", served_board, "-t", "0.5", "while True: pass")
    assert result.returncode == 3, result.stderr
    assert time.monotonic() - started < 30
    assert belay("exec", "-p", served_board, "print('alive')").stdout == "alive\n"
    assert json.loads(belay("stats", "-p", served_board, "--json").stdout)["sessions"] == {}


@pytest.mark.parametrize(
    ("port", "message"),
    [("/dev/belay-no-such-port", "no such port"), ("/tmp", "is a directory")],
)
def test_bad_port_exits_2_with_one_line(port: str, message: str) -> None:
    result = belay("exec", "-p", port, "print(1)")
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_timeout_interrupts_and_exits_3() -> None:
    result = belay("exec", "-p", "unix", "-t", "0.5", "while True: pass")
    assert result.returncode == 3
    assert "did not finish within 0.5s" in result.stderr


def test_missing_code_is_a_usage_error() -> None:
    result = belay("exec", "-p", "unix")
    assert result.returncode == 2
    assert "give CODE" in result.stderr


def test_ports_lists_the_virtual_boards() -> None:
    result = belay("ports")
    assert result.returncode == 0
    assert "unix, microbit" in result.stdout


@pytest.mark.parametrize("command", [[], ["exec"], ["stats"], ["ports"], ["virtual-board"]])
def test_help_for_every_command(command: list[str]) -> None:
    result = belay(*command, "--help")
    assert result.returncode == 0
    assert "usage: belay" in result.stdout


def test_exec_help_says_what_keep_does() -> None:
    text = " ".join(belay("exec", "--help").stdout.split())
    assert "--keep" in text
    assert "outside a session" in text


def test_virtual_board_serves_a_pty_that_mpremote_can_use() -> None:
    with served_virtual_board("unix", ends_cleanly=True) as path:
        assert path.startswith("/dev/pts/")
        assert mpremote_exec(path, "print(6 * 7)") == (0, "42")


@pytest.mark.parametrize("port", ["unix", pytest.param("microbit", marks=pytest.mark.microbit)])
def test_a_script_with_a_main_guard_runs_and_its_traceback_names_the_file(port: str, tmp_path: Path) -> None:
    script = tmp_path / "job.py"
    script.write_text(
        "def fail():\n    1/0\n\nif __name__ == '__main__':\n    print('running as', __name__)\n    fail()\n"
    )
    result = belay("exec", "-p", port, "-f", str(script))
    assert result.stdout.replace("\r\n", "\n") == "running as __main__\n"
    assert result.returncode == 1
    assert result.stderr.splitlines()[1:] == [
        f'  File "{script}", line 6, in <module>',
        "    fail()",
        f'  File "{script}", line 2, in fail',
        "    1/0",
        "ZeroDivisionError: " + ("division by zero" if port == "microbit" else "divide by zero"),
    ]
