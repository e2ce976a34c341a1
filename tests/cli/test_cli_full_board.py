"""A micro:bit too full for belay's capability probe: ``belay reset`` (soft or hard) still
resets it, since a board that full is the one that needs a reset; belay works on it after."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

BELAY = [sys.executable, "-m", "belay"]
FILL = "hog = []\ntry:\n while 1: hog.append(bytearray(100))\nexcept MemoryError:\n pass\n"
"""Run in the REPL namespace (``--keep``): the heap stays full after the call, no lease frees it."""

pytestmark = pytest.mark.microbit


def belay(*args: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "BELAY_PORT"}
    return subprocess.run(
        [*BELAY, *args], capture_output=True, text=True, timeout=120, env=environ, check=False
    )


@pytest.mark.parametrize("served_board", ["microbit"], indirect=True)
@pytest.mark.parametrize("how", ["--soft", "--hard"])
def test_reset_works_on_a_board_too_full_for_the_probe(served_board: str, how: str) -> None:
    belay("exec", "-p", served_board, "--keep", FILL)
    full = belay("exec", "-p", served_board, "print(1)")
    assert full.returncode == 2 and "cannot take belay's" in full.stderr, full.stderr
    reset = belay("reset", how, "-p", served_board)
    assert reset.returncode == 0, reset.stderr
    assert belay("exec", "-p", served_board, "print(6 * 7)").stdout == "42\n"


@pytest.mark.parametrize("served_board", ["microbit"], indirect=True)
def test_the_temperature_qemu_does_not_model_times_out_and_the_board_comes_back(served_board: str) -> None:
    """QEMU has no micro:bit temperature sensor: the firmware waits for it for ever, deaf to
    ctrl-C. The call times out cleanly; the virtual board, silent after the interrupt, is
    restarted (its reset button) and serves the next command."""
    stuck = belay("exec", "-p", served_board, "-t", "2", "import microbit\nprint(microbit.temperature())")
    assert stuck.returncode == 3, stuck.stderr
    assert "did not finish within 2s" in stuck.stderr.splitlines()[-1]
    assert belay("exec", "-p", served_board, "print(6 * 7)").stdout == "42\n"
