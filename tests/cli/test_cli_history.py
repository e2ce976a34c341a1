"""``belay history`` on journals written by hand, by two processes at once and by real sessions;
and the CLI's logging: ``-v``/``-q`` levels, records naming their session."""

from __future__ import annotations

import io
import json
import logging
import re
import subprocess
import sys
from pathlib import Path

import pytest
from rich.logging import RichHandler

from belay import DeviceSessionManager, SessionOptions
from belay.cli import main
from belay.cli.history import summarise
from belay.errors import ConnectionLostError
from belay.journal import FileJournal
from belay.log import configure_cli_logging, for_session, level_for

BOARD = {"implementation": "micropython", "version": "1.29.0", "platform": "linux", "port": "unix"}


def _history(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    assert main(["history", "--json", *args]) == 0
    summary: dict[str, object] = json.loads(capsys.readouterr().out)
    return summary


def _journal(path: Path) -> None:
    journal = FileJournal(path)
    for number, (outcome, problems) in enumerate([("closed", []), ("closed", []), ("failed", ["x: y"]),
                                                  ("lost", [])]):  # fmt: skip
        journal.record("begin", port="unix", session_id=f"s{number}", board=BOARD)
        journal.record("end", port="unix", session_id=f"s{number}", outcome=outcome, board=BOARD,
                       resources={}, duration_s=float(number + 1), problems=problems)  # fmt: skip
    journal.record("begin", port="unix", session_id="orphan", board=BOARD)  # its host died
    journal.record("reaped", port="/dev/ttyACM0", session_id="other", reason="lease", idle_ms=31000,
                   problems=["thread t did not stop"])  # fmt: skip


def test_history_sums_up_each_board(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "journal.jsonl"
    _journal(path)
    ports = _history(capsys, "--journal", str(path))["ports"]
    assert isinstance(ports, dict)
    unix = ports["unix"]
    assert unix["board"] == BOARD and unix["sessions"] == 5 and unix["unfinished"] == 1
    assert unix["ended"] == {"closed": 2, "failed": 1, "lost": 1, "reaped": 0}
    assert unix["cleanup_failures"] == 1 and unix["reaps"] == 0
    assert unix["duration_s"] == {"median": 2.5, "max": 4.0}
    serial = ports["/dev/ttyACM0"]
    assert serial["ended"]["reaped"] == 1 and serial["reaps"] == 1 and serial["cleanup_failures"] == 1
    only = _history(capsys, "--journal", str(path), "--port", "/dev/ttyACM0")["ports"]
    assert list(only) == ["/dev/ttyACM0"]  # type: ignore[call-overload]


def test_a_port_alias_of_the_config_filters_history(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "journal.jsonl"
    _journal(path)
    (tmp_path / "belay.toml").write_text("journal_path = 'journal.jsonl'\n[ports]\nbench = 'unix'\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BELAY_JOURNAL_PATH", raising=False)
    summary = _history(capsys, "--port", "bench")
    assert summary["journal"] == str(path) and list(summary["ports"]) == ["unix"]  # type: ignore[call-overload]


def test_history_of_two_processes_appending_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "journal.jsonl"
    writer = ("import sys\nfrom belay.journal import FileJournal\nj = FileJournal(sys.argv[1])\n"
              "for n in range(1000):\n"
              "    j.record('begin', port='unix', session_id=f'{sys.argv[2]}{n}')\n"
              "    j.record('end', port='unix', session_id=f'{sys.argv[2]}{n}', outcome='closed',"
              " duration_s=0.5)\n")  # fmt: skip
    writers = [subprocess.Popen([sys.executable, "-c", writer, str(path), name]) for name in "ab"]
    assert [w.wait(timeout=60) for w in writers] == [0, 0]
    assert len(path.read_text().splitlines()) == 4000
    unix = _history(capsys, "--journal", str(path))["ports"]["unix"]  # type: ignore[index]
    assert unix["sessions"] == 2000 and unix["ended"]["closed"] == 2000 and unix["unfinished"] == 0


def test_history_of_real_sessions_as_a_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import anyio

    path = tmp_path / "journal.jsonl"

    async def two_sessions() -> None:
        async with DeviceSessionManager(SessionOptions(journal_path=path)) as manager:
            for _ in range(2):
                async with manager.session("unix", on_output=None) as session:
                    await session.eval("1")

    anyio.run(two_sessions)
    summary = summarise(FileJournal(path).events())
    assert summary["unix"]["sessions"] == 2 and summary["unix"]["ended"]["closed"] == 2
    assert summary["unix"]["board"]["implementation"] == "micropython"
    assert main(["history", "--journal", str(path)]) == 0
    table = capsys.readouterr().out
    assert "unix" in table and "micropython" in table and "2 closed" in table
    assert main(["history", "--journal", str(tmp_path / "none.jsonl")]) == 0
    assert "no sessions in the journal" in capsys.readouterr().out


def test_a_journal_that_is_a_folder_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["history", "--journal", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"belay: error: cannot read the journal {tmp_path}: Is a directory\n"


def test_the_cli_journals_its_sessions_where_history_reads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))  # the user's state directory
    monkeypatch.delenv("BELAY_JOURNAL_PATH", raising=False)
    monkeypatch.chdir(tmp_path)  # no configuration file
    assert main(["exec", "-p", "unix", "print(6 * 7)"]) == 0
    capsys.readouterr()
    summary = _history(capsys)
    assert summary["journal"] == str(tmp_path / "state" / "belay" / "journal.jsonl")
    unix = summary["ports"]["unix"]  # type: ignore[index]
    assert unix["sessions"] == 1 and unix["ended"]["closed"] == 1
    monkeypatch.setenv("BELAY_JOURNAL_PATH", "")  # an empty journal_path turns it off
    assert main(["exec", "-p", "unix", "print(1)"]) == 0
    capsys.readouterr()
    monkeypatch.delenv("BELAY_JOURNAL_PATH")
    assert _history(capsys)["ports"]["unix"]["sessions"] == 1  # type: ignore[index]


@pytest.mark.parametrize("state", [None, "", "/srv/state"])
def test_the_default_journal_is_where_platformdirs_says(
    monkeypatch: pytest.MonkeyPatch, state: str | None
) -> None:
    """Worked out without importing platformdirs (a command's start-up does not pay for it)."""
    import platformdirs

    from belay.journal import default_journal_path

    if state is None:
        monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_STATE_HOME", state)
    assert default_journal_path() == platformdirs.user_state_path("belay") / "journal.jsonl"


def test_a_journal_that_cannot_be_written_warns_once_and_the_default_one_not_at_all(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Every command journals now: a disk that refuses the journal must not add a warning per
    event to each command's one-line error (nor any, for the journal nobody named)."""
    from belay.journal import default_journal_path, open_journal

    (tmp_path / "a-file").write_text("")
    caplog.set_level(logging.DEBUG, logger="belay.journal")
    named = open_journal(tmp_path / "a-file" / "journal.jsonl")  # its folder is a file
    for _ in range(3):
        named.record("begin", port="unix", session_id="s")
    levels = [record.levelno for record in caplog.records]
    assert levels == [logging.WARNING, logging.DEBUG, logging.DEBUG]
    caplog.clear()
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "a-file"))
    default = open_journal(default_journal_path())
    default.record("begin", port="unix", session_id="s")
    assert [record.levelno for record in caplog.records] == [logging.DEBUG]


def test_history_piped_is_not_cut_at_80_columns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "journal.jsonl"
    port = "rfc2217://bench-rack-7.lab.example.com:4000"
    board = {**BOARD, "platform": "rp2 Raspberry Pi Pico W with RP2040"}
    journal = FileJournal(path)
    journal.record("begin", port=port, session_id="s", board=board)
    journal.record("end", port=port, session_id="s", outcome="closed", board=board, duration_s=1.25)
    assert main(["history", "--journal", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any("median/max s" in line for line in lines)  # every column, its header whole
    row = next(line for line in lines if port in line)  # each cell on one line
    assert "micropython 1.29.0 on rp2 Raspberry Pi Pico W with RP2040" in row and "1.25/1.25" in row


# --- logging ----------------------------------------------------------------------------------


def test_v_and_q_set_the_level() -> None:
    assert [level_for(v, q) for v, q in [(0, 0), (1, 0), (2, 0), (5, 0), (0, 1), (0, 2), (0, 9)]] == [
        logging.WARNING, logging.INFO, logging.DEBUG, logging.DEBUG, logging.ERROR, logging.CRITICAL,
        logging.CRITICAL,
    ]  # fmt: skip


@pytest.mark.anyio
async def test_what_belay_logs_during_a_call_names_the_session(tmp_path: Path) -> None:
    log = tmp_path / "log.txt"
    with log.open("w") as stream:
        handler = configure_cli_logging(0, 0, stream)
        try:
            async with DeviceSessionManager() as manager, manager.session("unix", on_output=None) as session:
                with pytest.raises(ConnectionLostError):
                    await session.exec("import sys\nsys.exit()")  # the board reboots: a warning
        finally:
            logging.getLogger("belay").removeHandler(handler)
            logging.getLogger("belay").propagate = True
    lines = log.read_text().splitlines()
    assert f"belay: WARNING belay.device [{session.session_id}]: board on unix rebooted" in lines


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_logs_go_through_rich() -> None:
    stream = _Terminal()
    handler = configure_cli_logging(1, 0, stream)
    try:
        assert isinstance(handler, RichHandler)
        assert logging.getLogger("belay").level == logging.INFO
        with for_session("abc123"):
            logging.getLogger("belay.test").info("hello")
    finally:
        logging.getLogger("belay").removeHandler(handler)
        logging.getLogger("belay").propagate = True
    assert "INFO     belay.test [abc123]: hello" in re.sub(r"\x1b\[[0-9;]*m", "", stream.getvalue())


# --- the configuration in the CLI ----------------------------------------------------------------


def test_exec_takes_the_configured_port_and_its_alias(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text(
        "[tool.belay]\nport = 'bench'\n[tool.belay.ports]\nbench = 'unix'\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BELAY_PORT", raising=False)
    assert main(["exec", "-p", "bench", "print(6 * 7)"]) == 0
    assert main(["exec", "print(6 * 8)"]) == 0  # the configured port, an alias too
    out, err = capfd.readouterr()
    assert out.split() == ["42", "48"] and "using the unix virtual board" not in err


def test_a_bad_config_file_is_one_line_and_exit_2(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "belay.toml").write_text("leese = 3\n")
    monkeypatch.chdir(tmp_path)
    assert main(["exec", "-p", "unix", "1"]) == 2
    assert (
        capfd.readouterr().err == f"belay: error: {tmp_path / 'belay.toml'}: unknown belay settings: leese\n"
    )


def test_a_hosts_own_session_reaped_by_its_board_counts_once() -> None:
    events = [
        {"event": "begin", "port": "unix", "session_id": "s"},
        {"event": "reaped", "port": "unix", "session_id": "s", "reason": "lease", "problems": []},
        {"event": "end", "port": "unix", "session_id": "s", "outcome": "reaped", "problems": []},
    ]
    unix = summarise(events)["unix"]
    assert unix["ended"] == {"closed": 0, "failed": 0, "lost": 0, "reaped": 1} and unix["unfinished"] == 0
