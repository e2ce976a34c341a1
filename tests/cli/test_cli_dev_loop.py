"""``belay dev`` on the boards named by issue 28, for real: a served unix board behind a
115200-baud line and the micro:bit in QEMU (a save ends the old run, the new code runs, Ctrl-C
leaves the board at its friendly REPL); a save during a slow sync starts the sync over with
nothing half-written; a board that hard-resets, or goes away and comes back at its port, is
waited for and the entry runs again without anyone doing anything."""

from __future__ import annotations

import json
import os
import re
import signal
from contextlib import ExitStack
from pathlib import Path

import pytest
from dev_process import MAIN, belay, belay_dev, sensor, write_project
from virtual_boards import answer_to_return, served_virtual_board

from belay.cli.dev_loop import where
from belay.cli.dev_watch import kept_paths
from belay.session.files.ignore import Ignore

FLAT_MAIN = MAIN.replace("lib.sensor", "sensor")
RESET = {
    "unix": "import os\n    os.system('kill -9 $PPID')",
    "microbit": "import microbit\n    microbit.reset()",
}
"""Board code that hard-resets the board it runs on: the served unix board's interpreter is killed
(``belay virtual-board`` brings a fresh one up at the friendly REPL, its files kept); the
micro:bit resets itself."""


def reset_once(kind: str) -> str:
    """An entry that hard-resets the board the first time it runs (a marker file says it did)."""
    return (
        'import os\nprint("run", "marker" in os.listdir())\nif "marker" not in os.listdir():\n'
        f'    open("marker", "w").close()\n    {RESET[kind]}\n    import time\n    time.sleep(5)\n'
    )


def stopped_cleanly(dev: object, err: object, board: str) -> None:
    """Ctrl-C ends the loop with status 0 and leaves the board at its friendly REPL, holding no
    session of the loop's."""
    dev.send_signal(signal.SIGINT)  # type: ignore[attr-defined]
    assert dev.wait(timeout=60) == 0  # type: ignore[attr-defined]
    err.wait_for("stopped")  # type: ignore[attr-defined]
    assert answer_to_return(board, within=5.0).endswith(b">>> ")
    stats = belay("stats", "--json", "--port", board, timeout=120)
    assert json.loads(stats.stdout)["sessions"] == {}, "the loop left a session on the board"


def assert_old_run_stopped(seen: list[str], started: int, old: str) -> None:
    assert not [line for line in seen[started:] if old in line], "the old run went on"


def test_editor_temporaries_and_left_out_paths_are_not_changes(tmp_path: Path) -> None:
    (tmp_path / "main.py").write_text("")
    made_and_gone = [(1, str(tmp_path / "sede52YgK")), (3, str(tmp_path / "sede52YgK"))]
    kept = [(2, str(tmp_path / "main.py")), (3, str(tmp_path / "gone.py"))]
    found = {*made_and_gone, *kept, (2, str(tmp_path / ".git" / "x"))}
    assert kept_paths(tmp_path, found, Ignore.build("")) == ["gone.py", "main.py"]


def test_an_error_is_placed_in_the_local_folder(tmp_path: Path) -> None:
    traceback = (
        f'Traceback:\n  File "{tmp_path.resolve()}/main.py", line 3\n  File "/lib/sensor.py", line 12\n'
    )
    assert where(traceback, tmp_path, "") == " at lib/sensor.py:12"
    assert where(traceback.replace("/lib/", "/app/lib/"), tmp_path, "app") == " at lib/sensor.py:12"
    assert where(traceback.split('  File "/lib')[0], tmp_path, "") == " at main.py:3"


def test_on_a_115200_baud_line_a_save_ends_the_old_run_and_ctrl_c_leaves_the_friendly_repl(
    tmp_path: Path,
) -> None:
    project = write_project(tmp_path, {"main.py": MAIN, "lib/__init__.py": "", "lib/sensor.py": sensor("v1")})
    with (
        served_virtual_board("unix", "--baud", "115200") as board,
        belay_dev(str(project), "--port", board) as (dev, out, err),
    ):
        out.wait_for("tick v1", seconds=120)
        (project / "lib" / "sensor.py").write_text(sensor("v2"))
        err.wait_for("changed: lib/sensor.py: restarting", seconds=60)
        started = out.wait_for("main v2", seconds=60)
        out.wait_for_count("tick v2", 3, seconds=60)
        assert_old_run_stopped(out.seen, started, "v1")
        (project / "lib" / "sensor.py").write_text('def read():\n    raise ValueError("no")\n')
        err.wait_for("main.py exited with an error at lib/sensor.py:2: waiting for changes", seconds=60)
        stopped_cleanly(dev, err, board)


@pytest.mark.microbit
def test_on_the_microbit_a_save_ends_the_old_run_and_ctrl_c_leaves_the_friendly_repl(tmp_path: Path) -> None:
    project = write_project(tmp_path, {"main.py": FLAT_MAIN, "sensor.py": sensor("v1")})
    with (
        served_virtual_board("microbit") as board,
        belay_dev(str(project), "--port", board) as (dev, out, err),
    ):
        out.wait_for("tick v1", seconds=180)
        (project / "sensor.py").write_text(sensor("v2"))
        err.wait_for("changed: sensor.py: restarting", seconds=60)
        err.wait_for("soft-reset the board: it cannot import sensor afresh otherwise", seconds=60)
        started = out.wait_for("main v2", seconds=60)
        out.wait_for_count("tick v2", 3, seconds=60)
        assert_old_run_stopped(out.seen, started, "v1")
        (project / "main.py").write_text(FLAT_MAIN.replace('"main"', '"MAIN"'))
        started = out.wait_for("MAIN v2", seconds=60)
        out.wait_for_count("tick v2", 3, seconds=60)
        stopped_cleanly(dev, err, board)


def test_a_save_during_a_sync_starts_the_sync_over_and_leaves_no_half_file(tmp_path: Path) -> None:
    """Five 20 KB files take about nine seconds at 115200 baud; main.py is saved as the first is
    done. (Files this large go one to a call; smaller ones would go many to a call, and a save
    is seen at a call's end.)"""
    data = {f"data{index}.bin": os.urandom(20 * 1024) for index in range(5)}
    project = write_project(tmp_path, {"main.py": 'print("main v1")\n', **data})
    with served_virtual_board("unix", "--baud", "115200") as board:
        with belay_dev(str(project), "--port", board) as (dev, out, err):
            err.wait_for("sent :data0.bin", seconds=120)
            (project / "main.py").write_text('print("main v2")\n')
            restarted = err.wait_for("changed during the sync: main.py: starting the sync over", seconds=60)
            assert not [line for line in err.seen[:restarted] if "synced" in line], (
                "the sync was not abandoned"
            )
            out.wait_for("main v2", seconds=120)
            assert "main v1" not in out.seen
            (project / "data3.bin").write_bytes(os.urandom(20 * 1024))
            (project / "data4.bin").write_bytes(os.urandom(20 * 1024))
            err.wait_for("changed: data3.bin, data4.bin: restarting", seconds=60)
            mark = err.wait_for("sent :data3.bin (20.0 of 40.0 KB)", seconds=60)
            (project / "main.py").write_text('print("main v3")\n')
            again = err.wait_for(
                "changed during the sync: data3.bin, data4.bin, main.py: starting", seconds=60
            )
            assert not [line for line in err.seen[mark:again] if "synced" in line]
            out.wait_for("main v3", seconds=120)
            stopped_cleanly(dev, err, board)
        left = belay("sync", "--dry-run", "--json", str(project), "--port", board, timeout=120)
        assert json.loads(left.stdout)["uploaded"] == [], "the board's files differ from the folder's"
        listed = belay("fs", "ls", "--json", "--port", board, timeout=120)
        assert not [entry for entry in json.loads(listed.stdout) if entry["name"].endswith(".part")]


def test_a_board_that_hard_resets_is_waited_for_and_the_entry_runs_again(tmp_path: Path, board: str) -> None:
    project = write_project(tmp_path, {"main.py": reset_once(board)})
    with served_virtual_board(board) as port, belay_dev(str(project), "--port", port) as (dev, out, err):
        out.wait_for("run False", seconds=120)
        err.wait_for(f"the board on {port} went away (it rebooted): waiting for it to come back", seconds=60)
        err.wait_for(f"the board on {port} is back: syncing", seconds=60)
        out.wait_for("run True", seconds=60)
        stopped_cleanly(dev, err, port)


def test_on_a_simulated_line_opened_by_the_loop_itself_a_save_runs_the_new_code(tmp_path: Path) -> None:
    """``--port unix?baud=115200``: the board lives in the loop's own process."""
    project = write_project(tmp_path, {"main.py": MAIN, "lib/__init__.py": "", "lib/sensor.py": sensor("v1")})
    with belay_dev(str(project), "--port", "unix?baud=115200") as (dev, out, err):
        out.wait_for("tick v1", seconds=120)
        (project / "lib" / "sensor.py").write_text(sensor("v2"))
        started = out.wait_for("main v2", seconds=60)
        out.wait_for_count("tick v2", 3, seconds=60)
        assert_old_run_stopped(out.seen, started, "v1")
        dev.send_signal(signal.SIGINT)
        assert dev.wait(timeout=60) == 0
        err.wait_for("stopped")


def test_a_board_that_goes_away_and_comes_back_at_its_port_is_synced_and_run_again(tmp_path: Path) -> None:
    """The port is a link to the served board's pty, as /dev/serial/by-id/... is to a USB board's
    tty: the board is served again on another pty and the link moved to it."""
    project = write_project(
        tmp_path / "project", {"main.py": MAIN, "lib/__init__.py": "", "lib/sensor.py": sensor("v1")}
    )
    port = tmp_path / "board"
    with ExitStack() as first_board:
        port.symlink_to(first_board.enter_context(served_virtual_board("unix")))
        with belay_dev(str(project), "--port", str(port)) as (dev, out, err):
            out.wait_for("tick v1", seconds=60)
            first_board.close()  # the board goes away
            err.wait_for(f"the board on {port} went away", seconds=60)
            (project / "lib" / "sensor.py").write_text(sensor("v2"))
            with served_virtual_board("unix") as second:
                port.unlink()
                port.symlink_to(second)
                err.wait_for(f"the board on {port} is back: syncing", seconds=60)
                err.wait_for("synced 3 files", seconds=60)
                started = out.wait_for("main v2", seconds=60)
                out.wait_for_count("tick v2", 3, seconds=60)
                assert_old_run_stopped(out.seen, started, "v1")
                stopped_cleanly(dev, err, str(port))


BEATING = (
    'import _thread, os, time\nV = "v1"\ntry:\n    os.remove("beat")\nexcept OSError:\n    pass\n'
    'time.sleep_ms(500)\nprint("old thread", "beat" in os.listdir())\n\n\ndef beat():\n    while True:\n'
    '        with open("beat", "w") as f:\n            f.write(V)\n        time.sleep_ms(50)\n\n\n'
    '_thread.start_new_thread(beat, ())\nprint("main", V)\n'
)
"""An entry whose thread, started with ``_thread`` itself (no session's), writes ``beat`` every
50 ms; the next run removes it and, half a second later, says whether an old thread wrote it again."""


def test_with_soft_reset_a_thread_the_entry_started_itself_is_gone_at_the_next_run(tmp_path: Path) -> None:
    project = write_project(tmp_path, {"main.py": BEATING})
    with served_virtual_board("unix") as board, belay_dev(str(project), "--soft-reset", "--port", board) as (
        dev, out, err,
    ):  # fmt: skip
        out.wait_for("main v1", seconds=60)
        (project / "main.py").write_text(BEATING.replace('"v1"', '"v2"'))
        reset = err.wait_for("soft-reset the board: --soft-reset", seconds=60)
        assert reset > err.wait_for("changed: main.py: restarting"), "reset before the first run"
        out.wait_for("main v2", seconds=60)
        assert "old thread True" not in out.seen, "the old run's thread went on"
        assert out.seen.count("old thread False") == 2
        stopped_cleanly(dev, err, board)


BEATER = (
    'import _thread, time\n\n\ndef _beat(tag):\n    print("beating", tag)\n    while True:\n'
    '        with open("beat", "w") as f:\n            f.write(tag)\n        time.sleep_ms(50)\n\n\n'
    "def start(tag):\n    _thread.start_new_thread(_beat, (tag,))\n"
)
"""A module whose thread, started with ``_thread`` itself, writes ``beat`` every 50 ms; it
reads only its module's globals, which a session's end leaves as they are."""
SPINNER = (
    "import _thread\n\n\ndef _spin(tag):\n    n = 0\n    while True:\n        n += 1\n"
    '        if n % 20000 == 0:\n            with open("beat", "w") as f:\n                f.write(tag)\n\n\n'
    "def start(tag):\n    _thread.start_new_thread(_spin, (tag,))\n"
)
"""The same thread, but it neither sleeps nor prints: nowhere to stop it."""
STARTER = (
    'import os, time, beater\nV = "v1"\ntry:\n    os.remove("beat")\nexcept OSError:\n    pass\n'
    'time.sleep_ms(500)\nprint("old thread", "beat" in os.listdir())\nbeater.start(V)\nprint("main", V)\n'
)


@pytest.mark.parametrize("thread", [BEATER, SPINNER], ids=["sleeps", "spins"])
def test_a_thread_the_entry_started_with_thread_itself_is_gone_at_the_next_run(
    tmp_path: Path, thread: str
) -> None:
    """A thread the run started is the run's: it stops at its next sleep or print; one that has
    neither is named and the board soft-reset before the next run. Run in the project's folder
    with no LOCAL, as people do (the watcher's absolute paths once crashed the loop there)."""
    project = write_project(tmp_path, {"main.py": STARTER, "beater.py": thread})
    with served_virtual_board("unix") as board, belay_dev("--port", board, cwd=project) as (dev, out, err):
        out.wait_for("main v1", seconds=60)
        said = err.wait_for("main.py ended", seconds=30)
        assert re.fullmatch(
            r"belay dev: main.py ended; thread _(beat|spin)#\d+ running on until the next change: "
            r"waiting for changes",
            err.seen[said],
        ), err.seen[said]
        if thread is BEATER:
            out.wait_for("beating v1", seconds=30)  # its print, followed from the run's session
        (project / "main.py").write_text(STARTER.replace('"v1"', '"v2"'))
        restarted = err.wait_for("changed: main.py: restarting", seconds=60)
        out.wait_for("main v2", seconds=60)
        assert "old thread True" not in out.seen, "the old run's thread went on"
        assert out.seen.count("old thread False") == 2
        ran = err.wait_for_count("running main.py", 2)  # the status lines up to the new run
        resets = [line for line in err.seen[restarted:ran] if "soft-reset" in line]
        if thread is BEATER:
            assert resets == []
        else:
            assert len(resets) == 1 and re.fullmatch(
                r"belay dev: soft-reset the board: the old run's thread _spin#\d+ did not stop", resets[0]
            ), resets
        stopped_cleanly(dev, err, board)
