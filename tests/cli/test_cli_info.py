"""``belay info``, ``latency``, ``reset``, ``ports``, ``--version`` and picking a port, as a user
runs them: a subprocess, real boards."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

import belay

BELAY = [sys.executable, "-m", "belay"]
MICROBIT = pytest.param("microbit", marks=pytest.mark.microbit)


def belay_cli(*args: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "BELAY_PORT"}
    return subprocess.run(
        [*BELAY, *args], capture_output=True, text=True, timeout=90, env=environ, check=False
    )


@pytest.mark.parametrize(
    ("kind", "platform", "threads"), [("unix", "linux", True), pytest.param("microbit", "microbit", False,
                                                                           marks=pytest.mark.microbit)]
)  # fmt: skip
def test_info_json_says_what_the_board_is(kind: str, platform: str, threads: bool) -> None:
    result = belay_cli("info", "--json", "-p", kind)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert (found["port"], found["chosen_by"], found["implementation"]) == (kind, "--port", "micropython")
    assert found["platform"] == platform
    assert found["capabilities"]["threads"] is threads
    assert found["mem_free"] > 1000
    assert found["agent"]["state"] == "absent"  # info loads nothing onto a board
    flash = found["flash_free"]
    assert flash is None if kind == "microbit" else flash > 0


@pytest.mark.parametrize("kind", ["unix", MICROBIT])
def test_info_decodes_the_mpy_version_and_says_what_timer_and_flash_are(kind: str) -> None:
    found = json.loads(belay_cli("info", "--json", "-p", kind).stdout)
    text = dict(line.split(":", 1) for line in belay_cli("info", "-p", kind).stdout.splitlines())
    if kind == "microbit":  # MicroPython 1.9: no _mpy, no machine.Timer nor _thread, no statvfs
        assert found["mpy"] is None and text["mpy version"].strip().startswith("- (the firmware does not say")
        assert (found["capabilities"]["timer"], found["capabilities"]["timer_by"]) == (False, None)
        assert found["flash_is_host_disk"] is False
        return
    assert found["capabilities"]["mpy_version"] == 2822  # 6 | 3 << 8 | 2 << 10
    assert found["mpy"] == {"version": 6, "sub_version": 3, "arch": "x64"}
    assert text["mpy version"].strip() == "v6.3, native code for x64 (sys.implementation._mpy = 2822)"
    # session.timer runs on a thread there: the JSON says it works, and how.
    assert (found["capabilities"]["timer"], found["capabilities"]["timer_by"]) == (True, "a thread")
    assert "timer (on a thread)" in text["capabilities"]
    assert found["flash_is_host_disk"] is True and "the host's disk" in text["free flash"]


@pytest.mark.parametrize(
    ("value", "decoded"),
    [(6 | 2 << 8 | 10 << 10, {"version": 6, "sub_version": 2, "arch": "xtensawin"}),
     (6 | 3 << 8 | 4 << 10, {"version": 6, "sub_version": 3, "arch": "armv6m"}),
     (6, {"version": 6, "sub_version": 0, "arch": None}), (5 | 31 << 10, {"version": 5, "sub_version": 0,
                                                                           "arch": "unknown (31)"})],
)  # fmt: skip
def test_the_mpy_field_decodes_as_mpremote_documents_it(value: int, decoded: dict[str, object]) -> None:
    from belay.cli.info import mpy_format

    assert mpy_format(value) == decoded


def test_info_shows_the_agent_a_board_holds(served_board: str) -> None:
    assert belay_cli("exec", "-p", served_board, "pass").returncode == 0  # loads the agent
    result = belay_cli("info", "-p", served_board)
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(":", 1) for line in result.stdout.splitlines())
    assert lines["port"].strip() == f"{served_board} (chosen by --port)"
    assert lines["agent"].strip().startswith("loaded, version ")
    assert "(this belay's), 0 live session(s)" in lines["agent"]
    assert "threads" in lines["capabilities"]


def test_info_port_from_the_environment_says_so() -> None:
    environ = {**os.environ, "BELAY_PORT": "unix"}
    done = subprocess.run([*BELAY, "info", "--json"], capture_output=True, text=True, env=environ, timeout=60)
    assert json.loads(done.stdout)["chosen_by"] == "$BELAY_PORT"


@pytest.mark.parametrize("kind", ["unix", MICROBIT])
def test_latency_json_has_min_median_p90_max_of_both_calls(kind: str) -> None:
    result = belay_cli("latency", "--json", "-n", "5", "-p", kind)
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout)
    assert (found["port"], found["count"]) == (kind, 5)
    assert set(found["ms"]) == {"empty call", "cached task call"}
    for figures in found["ms"].values():
        assert 0 < figures["min"] <= figures["median"] <= figures["p90"] <= figures["max"] < 5000


def test_latency_table() -> None:
    result = belay_cli("latency", "-n", "3", "-p", "unix")
    assert result.returncode == 0, result.stderr
    assert "round trips to unix, 3 each (ms)" in result.stdout
    header = next(line for line in result.stdout.splitlines() if "median" in line)
    assert header.split() == ["call", "min", "median", "p90", "max"]
    assert "cached task call" in result.stdout
    refused = belay_cli("latency", "-n", "0", "-p", "unix")
    assert (refused.returncode, refused.stderr) == (2, "belay: error: --count must be at least 1, not 0\n")


@pytest.mark.parametrize("served_board", ["unix", MICROBIT], indirect=True)
def test_soft_reset_clears_ram(served_board: str) -> None:
    assert belay_cli("exec", "-p", served_board, "--keep", "w = 1").returncode == 0
    result = belay_cli("reset", "-p", served_board)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"soft-reset the board on {served_board}")
    assert belay_cli("exec", "-p", served_board, "--keep", "print('w' in globals())").stdout == "False\n"


@pytest.mark.microbit
@pytest.mark.parametrize("served_board", ["microbit"], indirect=True)
def test_hard_reset_where_the_board_can(served_board: str) -> None:
    assert belay_cli("exec", "-p", served_board, "--keep", "w = 1").returncode == 0
    result = belay_cli("reset", "--hard", "-p", served_board)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"hard-reset the board on {served_board} (machine.reset())\n"
    after = belay_cli("exec", "-p", served_board, "--keep", "print('w' in globals())")
    assert (after.returncode, after.stdout) == (0, "False\n"), after.stderr


def test_hard_reset_where_the_board_cannot_says_why() -> None:
    result = belay_cli("reset", "--hard", "-p", "unix")
    assert result.returncode == 2
    assert result.stderr == (
        "belay: error: the board on unix cannot be hard-reset: it has neither machine.reset() nor "
        "microbit.reset() (belay reset --soft restarts its interpreter)\n"
    )


def test_version() -> None:
    result = belay_cli("--version")
    assert result.returncode == 0
    assert result.stdout.startswith(f"belay {belay.__version__} (Python 3.")


def test_ports_has_a_legend() -> None:
    result = belay_cli("ports")
    assert result.returncode == 0
    assert result.stdout.startswith("virtual boards:\tunix, microbit\n")
    if "no serial ports found" not in result.stdout:
        assert "VID:PID" in result.stdout and "serial" in result.stdout
        assert "* looks like a MicroPython board" in result.stdout


@pytest.mark.parametrize(
    ("port", "message"),
    [("unx", "belay: error: no such port: unx (did you mean unix?)\n"),
     ("microbt", "belay: error: no such port: microbt (did you mean microbit?)\n")],
)  # fmt: skip
def test_a_mistyped_port_gets_suggestions(port: str, message: str) -> None:
    result = belay_cli("exec", "-p", port, "print(1)")
    assert (result.returncode, result.stderr) == (2, message)


def test_a_unique_prefix_picks_the_board() -> None:
    result = belay_cli("exec", "-p", "un", "import sys; print(sys.platform)")
    assert (result.returncode, result.stdout) == (0, "linux\n")


@pytest.mark.parametrize("command", ["run", "repl", "terminal", "info", "latency", "reset"])
def test_help_of_the_new_commands(command: str) -> None:
    result = belay_cli(command, "--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: belay ")
    assert "--port" in result.stdout
