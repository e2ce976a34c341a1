"""``belay stats``: the rendering on its own, then the command on real boards, with a session
left alive on a board served by ``belay virtual-board`` (the only board that outlives a command)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import anyio
import pytest
from rich.console import Console

from belay import DeviceSessionManager, SessionOptions
from belay.agent.install import agent_version
from belay.cli.agent import format_ms, lease_left, render_stats, stats_json

BELAY = [sys.executable, "-m", "belay"]

STATS = {
    "version": "abc123",
    "sessions": {
        "47a5f30a": {
            "age_ms": 453, "idle_ms": 10, "lease_ms": 120000,
            "threads": {"spin-1": ["running", None], "boom-2": ["crashed", "ValueError: no"],
                        "once-3": ["finished", None]},
            "timers": ["timer-1"], "methods": {"add": "ba1a", "spin": "39b0"}, "files": [], "output": 38,
            "modules": ["sensors", "sensors.bme"],
        },
        "ffff0000": {
            "age_ms": 4_000_000, "idle_ms": 40_000, "lease_ms": 30_000, "threads": {},
            "timers": [], "methods": {}, "files": ["log.txt"], "output": 0,
        },
    },
    "reaped": [("0badcafe", [])],
    "mem_free": 6000,
    "mem_alloc": 4000,
}  # fmt: skip


def rendered(stats: dict[str, object]) -> str:
    out = io.StringIO()
    render_stats(stats, "/dev/pts/9", Console(file=out, width=100))
    return out.getvalue()


def belay(*args: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k != "BELAY_PORT"}
    return subprocess.run(
        [*BELAY, *args], capture_output=True, text=True, timeout=60, env=environ, check=False
    )


@pytest.mark.parametrize(
    ("ms", "text"), [(850, "850ms"), (12_345, "12.3s"), (245_000, "4m05s"), (7_380_000, "2h03m")]
)
def test_durations_read_as_people_say_them(ms: int, text: str) -> None:
    assert format_ms(ms) == text


def test_lease_left_is_the_lease_less_the_idle_time_or_expired() -> None:
    assert lease_left({"lease_ms": 30_000, "idle_ms": 18_000}) == "12.0s"
    assert lease_left({"lease_ms": 30_000, "idle_ms": 30_001}) == "expired"


def test_table_shows_each_session_its_threads_and_the_heap() -> None:
    text = rendered(STATS)
    first = next(line for line in text.splitlines() if "47a5f30a" in line).split()
    assert first == ["47a5f30a", "453ms", "1m59s", "1/1/1", "1", "2", "0", "0", "2", "38", "B"]
    second = next(line for line in text.splitlines() if "ffff0000" in line).split()
    assert second[1:3] == ["1h06m", "expired"]
    assert "session 47a5f30a: thread boom-2 crashed: ValueError: no" in text
    assert "heap 4000 B in use, 6000 B free (40% used); 1 session(s) reaped recently" in text


def test_no_sessions_says_so() -> None:
    text = rendered({**STATS, "sessions": {}, "reaped": []})
    assert "no sessions on /dev/pts/9" in text
    assert "47a5f30a" not in text


def test_json_is_the_agents_stats_with_the_port() -> None:
    decoded = json.loads(stats_json(STATS, "/dev/pts/9"))
    assert decoded["port"] == "/dev/pts/9"
    assert decoded["sessions"]["47a5f30a"]["threads"]["spin-1"] == ["running", None]
    assert decoded["reaped"] == [["0badcafe", []]]


def test_stats_of_a_fresh_unix_board() -> None:
    result = belay("stats", "--port", "unix", "--json")
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)
    assert (stats["port"], stats["sessions"], stats["version"]) == ("unix", {}, agent_version())
    assert isinstance(stats["mem_free"], int) and isinstance(stats["mem_alloc"], int)
    table = belay("stats", "--port", "unix")
    assert table.returncode == 0
    assert "no sessions on unix" in table.stdout
    assert "B free" in table.stdout


def test_stats_on_a_bad_port_exits_2_with_one_line() -> None:
    result = belay("stats", "--port", "/dev/belay-no-such-port")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1


async def leave_a_session_on(path: str) -> str:
    """Open a session with a running thread, a crashed one and a task, then let go of the
    board without ending it: the transport closes first, so shutdown can't reach the board."""
    manager = DeviceSessionManager(SessionOptions(lease=120))
    async with manager:
        session = await manager.create_session(path)

        @session.thread
        def spin(period_ms):  # type: ignore[no-untyped-def]
            import time

            import belay_agent

            while belay_agent.running():
                time.sleep_ms(period_ms)

        @session.thread
        def boom():  # type: ignore[no-untyped-def]
            raise ValueError("on purpose")

        @session.task
        def add(a, b):  # type: ignore[no-untyped-def]
            return a + b

        assert await add(1, 2) == 3
        await spin(20)
        await boom()
        board = manager.board(path)
        assert board is not None
        await board.device.aclose()
    return session.session_id


def test_stats_shows_a_live_session_its_threads_and_methods(served_board: str) -> None:
    session_id = anyio.run(leave_a_session_on, served_board)
    result = belay("stats", "--port", served_board, "--json")
    assert result.returncode == 0, result.stderr
    stats = json.loads(result.stdout)
    record = stats["sessions"][session_id]
    assert record["threads"]["spin-1"] == ["running", None]
    assert record["threads"]["boom-2"][0] == "crashed"
    assert set(record["methods"]) == {"spin", "boom", "add"}
    assert 0 < record["lease_ms"] - record["idle_ms"] <= 120_000
    assert isinstance(stats["mem_free"], int) and isinstance(stats["mem_alloc"], int)
    table = belay("stats", "--port", served_board)
    row = next(line for line in table.stdout.splitlines() if session_id in line).split()
    assert row[3:6] == ["1/0/1", "0", "3"]
    assert f"session {session_id}: thread boom-2 crashed: ValueError: on purpose" in table.stdout
