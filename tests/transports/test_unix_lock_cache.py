"""The unix board's interpreter locks are found once per interpreter file, not once per process:
what reading the file's debug information (~0.2 s) found is kept in the user's cache folder, by
the file's identity, and a later process reads it there."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from belay.transports import unix_locks
from belay.transports.unix_board import find_micropython

CHECK = (
    "import sys\nfrom belay.cli import main\ncode = main(['exec', '--port', 'unix', 'print(6*7)'])\n"
    "print('parsed' if 'elftools' in sys.modules else 'cached')\nsys.exit(code)\n"
)


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def interpreter() -> str:
    """The file the unix board's interpreter runs from (as the board's own process maps it)."""
    process = subprocess.Popen([find_micropython()], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    try:
        for _ in range(200):
            found = unix_locks.interpreter_file(process.pid)
            if found is not None:
                return found[0]
            time.sleep(0.01)
        pytest.fail("the interpreter's file was not found in its process's maps")
    finally:
        process.kill()
        process.wait(timeout=10)


def _offsets(path: str) -> tuple[int, ...]:
    return unix_locks.lock_offsets.__wrapped__(path)  # type: ignore[attr-defined,no-any-return]


def test_offsets_found_once_are_read_from_the_cache_after(
    cache_home: Path, interpreter: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    found = _offsets(interpreter)
    assert len(found) == 3 and all(offset > 0 for offset in found)
    kept = json.loads(unix_locks.cache_path().read_text(encoding="utf-8"))
    assert list(kept.values()) == [list(found)]
    assert unix_locks.cache_path().is_relative_to(cache_home)

    def no_reading(path: str) -> tuple[int, ...]:
        raise AssertionError(f"{path} was read again")

    monkeypatch.setattr(unix_locks, "_read_offsets", no_reading)
    assert _offsets(interpreter) == found


def test_a_changed_file_is_read_again_and_its_old_entry_dropped(
    cache_home: Path, interpreter: str, tmp_path: Path
) -> None:
    copy = str(tmp_path / os.path.basename(interpreter))
    shutil.copy(interpreter, copy)
    found = _offsets(copy)
    os.utime(copy, ns=(1_000_000_000, 1_000_000_000))
    reads = []
    original = unix_locks._read_offsets

    def counted(path: str) -> tuple[int, ...]:
        reads.append(path)
        return original(path)

    unix_locks._read_offsets, saved = counted, unix_locks._read_offsets
    try:
        assert _offsets(copy) == found
    finally:
        unix_locks._read_offsets = saved
    assert reads == [copy]
    kept = json.loads(unix_locks.cache_path().read_text(encoding="utf-8"))
    assert len([key for key in kept if key.startswith(copy + "\0")]) == 1


@pytest.mark.parametrize("content", ["not json", "[1, 2]", '{"x": "y"}'])
def test_a_cache_that_is_not_ours_to_trust_is_read_around(
    cache_home: Path, interpreter: str, content: str
) -> None:
    unix_locks.cache_path().parent.mkdir(parents=True)
    unix_locks.cache_path().write_text(content, encoding="utf-8")
    assert len(_offsets(interpreter)) == 3


def test_a_second_belay_process_does_not_read_the_interpreters_debug_information(cache_home: Path) -> None:
    environment = dict(os.environ, XDG_CACHE_HOME=str(cache_home))
    runs = [
        subprocess.run(
            [sys.executable, "-c", CHECK], capture_output=True, text=True, env=environment, timeout=60
        )
        for _ in range(2)
    ]
    assert [run.returncode for run in runs] == [0, 0], runs[0].stderr + runs[1].stderr
    assert [run.stdout.split() for run in runs] == [["42", "parsed"], ["42", "cached"]]
