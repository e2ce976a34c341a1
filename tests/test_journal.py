"""The session journal: JSON lines a user can read after the fact, never an error in the work."""

from __future__ import annotations

import os
import stat
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
