"""``belay.connect`` and ``belay.open_session`` as a new user meets them (issue 26, items 6 and 8):
configured by the project's ``[tool.belay]`` and ``BELAY_*`` exactly as the CLI and the pytest
plugin are, a session without a ``with`` block ended at the interpreter's exit, and ``exec``
that does not hand back what it already streamed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_blocking import board_records
from virtual_boards import served_virtual_board

import belay
from belay import DeviceTimeoutError, PortNotFoundError, SessionError

KINDS = ["unix", pytest.param("microbit", marks=pytest.mark.microbit)]


@pytest.fixture(params=KINDS)
def board_path(request: pytest.FixtureRequest) -> Iterator[str]:
    with served_virtual_board(request.param) as path:
        yield path


def run_python(
    code: str, cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -c CODE ARGS`` in ``cwd``, as a user's script runs (60 s at most)."""
    environ = {key: value for key, value in os.environ.items() if not key.startswith("BELAY_")}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        cwd=cwd, env={**environ, **(env or {})}, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def test_a_port_alias_in_pyproject_works_in_a_new_users_first_script(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.belay.ports]\nbench = "unix"\n')
    done = run_python("import belay\nwith belay.connect('bench') as s: print(s.eval('6*7'))", tmp_path)
    assert (done.returncode, done.stdout) == (0, "42\n"), done.stderr


def test_the_configured_port_is_the_default(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.belay]\nport = "bench"\n[tool.belay.ports]\nbench = "unix"\n'
    )
    done = run_python("import belay\nwith belay.connect() as s: print(s.session.port)", tmp_path)
    assert (done.returncode, done.stdout) == (0, "unix\n"), done.stderr


def test_no_port_given_or_configured_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BELAY_PORT", raising=False)
    with pytest.raises(PortNotFoundError, match="no port given, and none configured"), belay.connect():
        pass


def test_an_unknown_alias_names_the_ones_it_may_have_meant(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.belay.ports]\nbench = "unix"\n')
    monkeypatch.chdir(tmp_path)
    with pytest.raises(PortNotFoundError, match="bench"), belay.connect("bnech"):
        pass


CALL_TIMEOUT = """
import belay
with belay.connect('unix', on_output=None) as s:
    print(s.session.options.call_timeout, flush=True)
    try:
        s.exec('while True:\\n pass')
    except belay.DeviceTimeoutError as error:
        print(type(error).__name__, s.eval('1 + 1'))
"""


def test_belay_call_timeout_from_the_environment_is_a_deadline(tmp_path: Path) -> None:
    done = run_python(CALL_TIMEOUT, tmp_path, env={"BELAY_CALL_TIMEOUT": "1"})
    assert (done.returncode, done.stdout) == (0, "1.0\nDeviceTimeoutError 2\n"), done.stderr


def test_options_given_in_code_win_over_the_file_and_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.belay]\ncall_timeout = 30.0\nlease = 12.0\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BELAY_CALL_TIMEOUT", "20")
    with belay.connect("unix", on_output=None, call_timeout=0.5) as session:
        assert (session.session.options.call_timeout, session.session.options.lease) == (0.5, 12.0)
        with pytest.raises(DeviceTimeoutError):
            session.exec("while True:\n pass")
    with pytest.raises(ValueError, match="unknown session options: call_timout"):
        belay.connect("unix", call_timout=1).__enter__()


def test_sessions_are_journalled_where_the_configuration_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.belay]\njournal_path = "logs/belay.jsonl"\n')
    monkeypatch.chdir(tmp_path)
    with belay.connect("unix", on_output=None) as session:
        session_id = session.session.session_id
    events = [json.loads(line) for line in (tmp_path / "logs" / "belay.jsonl").read_text().splitlines()]
    assert {"begin", "end"} <= {event["event"] for event in events if event.get("session_id") == session_id}


def test_exec_returns_nothing_when_its_output_was_streamed() -> None:
    printed: list[bytes] = []
    with belay.connect("unix", on_output=printed.append) as session:
        assert session.exec("print('once')") is None
        assert session.exec("print('kept')", on_output=None) is None  # the session's own stream
    with belay.connect("unix", on_output=None) as quiet:
        assert quiet.exec("print('returned')") == "returned\n"  # nothing streamed: handed back
    assert b"".join(printed) == b"once\nkept\n"


def test_open_session_without_a_with_block_is_closed_by_close(board_path: str) -> None:
    session = belay.open_session(board_path, on_output=None)
    try:
        assert session.eval("6 * 7") == 42
        session_id = session.session.session_id
    finally:
        session.close()
    session.close()  # a second close does nothing
    assert not session.session.is_active
    assert board_records(board_path)["sessions"] == {}
    with pytest.raises(SessionError, match=rf"after session {session_id} ended"):
        session.eval("1")


NOTEBOOK = r"""
import sys, belay
session = belay.open_session(sys.argv[1], on_output=None)
session.exec("big = bytearray(64)")
grow = session.task(source="def grow(n):\n    big.extend(bytearray(n))\n    return len(big)")
print(grow(16), flush=True)
# no close(): the interpreter's exit ends the session
"""


def test_open_session_is_ended_at_the_interpreters_exit(board_path: str, tmp_path: Path) -> None:
    done = run_python(NOTEBOOK, tmp_path, board_path)
    assert (done.returncode, done.stdout) == (0, "80\n"), done.stderr
    assert board_records(board_path) == {"sessions": {}, "zombies": {}}
