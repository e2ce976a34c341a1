"""The session journal: JSON lines a user can read after the fact, never an error in the work."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from belay import DeviceSessionManager, SessionOptions
from belay.journal import FileJournal, NullJournal, open_journal


def test_events_are_json_lines_with_time_pid_and_fields(tmp_path: Path) -> None:
    journal = FileJournal(tmp_path / "deep" / "journal.jsonl")
    journal.record("reaped", port="unix", session_id="abc", problems=["thread x did not stop"])
    journal.record("end", port="unix", session_id="abc")
    events = journal.events()
    assert [(e["event"], e["session_id"]) for e in events] == [("reaped", "abc"), ("end", "abc")]
    assert events[0]["problems"] == ["thread x did not stop"] and events[0]["pid"] == os.getpid()
    assert stat.S_IMODE((tmp_path / "deep" / "journal.jsonl").stat().st_mode) == 0o600


def test_a_journal_that_cannot_be_written_logs_and_carries_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    FileJournal(blocked / "journal.jsonl").record("begin", port="unix")  # a file is in the way
    assert "could not write to the journal" in caplog.text


def test_lines_that_are_not_events_are_skipped(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    path.write_text('{"event": "begin"}\nnot json\n[1, 2]\n')
    assert FileJournal(path).events() == [{"event": "begin"}]


def test_no_path_means_no_journal() -> None:
    assert isinstance(open_journal(None), NullJournal)


@pytest.mark.anyio
async def test_the_manager_journals_each_session_it_begins_and_ends(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    async with DeviceSessionManager(SessionOptions(journal_path=path)) as manager:
        session = await manager.create_session("unix")
        await manager.end_session(session.session_id)
    events = [(e["event"], e["session_id"]) for e in FileJournal(path).events()]
    assert events == [("begin", session.session_id), ("end", session.session_id)]


# --- the audit trail: timestamps, board identity, resource counts, many writers, rotation ------

WRITER = """
import sys, time
from pathlib import Path
from belay.journal import FileJournal
path, name, max_bytes, go = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
journal = FileJournal(path, max_bytes)
while not go.exists():
    time.sleep(0.001)
for number in range(1000):
    journal.record("begin", port="unix", session_id=f"{name}-{number}", padding="x" * 150)
"""


def _run_writers(tmp_path: Path, max_bytes: int) -> Path:
    path, go = tmp_path / "journal.jsonl", tmp_path / "go"
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), name, str(max_bytes), str(go)])
        for name in ("a", "b")
    ]
    go.touch()
    assert [writer.wait(timeout=60) for writer in writers] == [0, 0]
    return path


def test_two_processes_appending_at_once_never_tear_a_line(tmp_path: Path) -> None:
    path = _run_writers(tmp_path, max_bytes=100 * 1024 * 1024)
    lines = path.read_text().splitlines()
    events = [json.loads(line) for line in lines]  # every line parses
    assert len(events) == 2000
    for name in ("a", "b"):  # each writer's lines complete and in its order
        assert [e["session_id"] for e in events if e["session_id"].startswith(name)] == [
            f"{name}-{n}" for n in range(1000)
        ]


def test_rotation_under_two_writers_keeps_whole_lines_within_the_cap(tmp_path: Path) -> None:
    cap = 64 * 1024
    path = _run_writers(tmp_path, max_bytes=cap)
    rotated = path.with_name("journal.jsonl.1")
    assert path.stat().st_size <= cap and rotated.stat().st_size <= cap
    for file in (rotated, path):
        assert all(json.loads(line)["event"] == "begin" for line in file.read_text().splitlines())
    kept = FileJournal(path).events()
    assert 0 < len(kept) < 2000 and kept[-1]["session_id"].endswith("-999")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["go", "journal.jsonl", "journal.jsonl.1"]


def test_a_line_has_an_iso_utc_timestamp_with_milliseconds(tmp_path: Path) -> None:
    journal = FileJournal(tmp_path / "journal.jsonl")
    journal.record("begin", port="unix")
    stamp = journal.events()[0]["time"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", stamp)
    assert abs(datetime.fromisoformat(stamp).timestamp() - time.time()) < 5


@pytest.mark.anyio
async def test_begin_and_end_carry_the_boards_identity_and_what_the_session_held(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    manager = DeviceSessionManager(SessionOptions(journal_path=path))
    async with manager, manager.session("unix", on_output=None) as session:

        @session.task
        def double(x):  # type: ignore[no-untyped-def]
            return 2 * x

        assert await double(2) == 4
        await session.fs.put(b"data", "belay_journal.txt", temporary=True)
        info = session.device_info
    begin, end = FileJournal(path).events()
    board = {"implementation": info.implementation, "version": info.version_text,
             "platform": info.platform, "port": "unix"}  # fmt: skip
    assert begin["board"] == board and end["board"] == board
    assert end["outcome"] == "closed" and end["resources"] == {"method": 1, "file": 1}
    assert end["problems"] == [] and 0 < end["duration_s"] < 60
