"""``belay clean``: everything belay leaves on a board is removed, live sessions only with --force."""

from __future__ import annotations

import anyio
import pytest
from test_cli import belay

from belay.agent import calls
from belay.agent.install import ensure_agent
from belay.device import Device

BOTH = pytest.mark.parametrize(
    "served_board", ["unix", pytest.param("microbit", marks=pytest.mark.microbit)], indirect=True
)
FOOTPRINT = (
    "print(repr((sorted(__import__('os').listdir()), sorted(globals()),"
    " sorted(m for m in getattr(__import__('sys'), 'modules', {}) if 'belay' in m))))"
)


def footprint(port: str) -> tuple[list[str], list[str], list[str]]:
    async def look() -> tuple[list[str], list[str], list[str]]:
        async with await Device.open(port) as device:
            files, names, modules = await device.eval_code(FOOTPRINT)
            return files, names, modules

    return anyio.run(look)


def open_live_session(port: str) -> None:
    async def begin() -> None:
        async with await Device.open(port) as device:
            await ensure_agent(device)
            await device.exec(calls.begin("a-live-session-token", "live-session", 60_000, []))

    anyio.run(begin)


@BOTH
def test_clean_removes_the_agents_files_names_and_modules(served_board: str) -> None:
    before = footprint(served_board)
    assert belay("exec", "-p", served_board, "print(6 * 7)").stdout.strip() == "42"
    with_agent = footprint(served_board)
    assert "belay_agent.py" in with_agent[0] and "_ba" in with_agent[1]
    result = belay("clean", "-p", served_board)
    assert result.returncode == 0, result.stderr
    assert "removed the belay agent" in result.stdout
    after = footprint(served_board)
    assert not [name for name in after[0] if name.startswith("belay_agent")]
    assert not [name for name in after[1] if name.startswith("_ba")]
    assert after[2] == []
    if "soft-reset" not in result.stdout:  # a reset (the micro:bit) leaves only what a reset does
        assert after[1] == [name for name in before[1] if not name.startswith("_ba")]
    else:
        assert "cannot forget an imported module" in result.stdout


@BOTH
def test_clean_refuses_while_a_session_is_live_and_force_ends_it(served_board: str) -> None:
    open_live_session(served_board)
    refused = belay("clean", "-p", served_board)
    assert refused.returncode == 2
    assert "1 live belay session" in refused.stderr and "--force" in refused.stderr
    assert "belay_agent.py" in footprint(served_board)[0]  # nothing was touched
    forced = belay("clean", "-p", served_board, "--force")
    assert forced.returncode == 0, forced.stderr
    assert "ended 1 session" in forced.stdout
    assert "belay_agent.py" not in footprint(served_board)[0]
    assert belay("exec", "-p", served_board, "print('back')").stdout.strip() == "back"  # reinstalls


FILL = "junk = []\ntry:\n    while True:\n        junk.append(bytearray(48))\nexcept MemoryError:\n    pass"


def exhaust(port: str) -> None:
    """A session (whose host then goes away) fills the board's heap to the last block."""

    async def fill() -> None:
        async with await Device.open(port) as device:
            await ensure_agent(device)
            await device.exec(calls.begin("a-greedy-session-token", "greedy-sess", 60_000, []))
            await device.exec(calls.exec_code("a-greedy-session-token", FILL, device.capabilities.threads))

    anyio.run(fill)


@pytest.mark.parametrize(
    "served_board", [pytest.param("microbit", marks=pytest.mark.microbit)], indirect=True
)
def test_an_exhausted_board_is_recovered_by_reap_all(served_board: str) -> None:
    exhaust(served_board)
    stuck = belay("exec", "-p", served_board, "print('room?')")
    assert stuck.returncode != 0 and "memory" in stuck.stderr.lower()  # the board is full
    refused = belay("reap", "--all", "--no-reset", "-p", served_board)
    assert refused.returncode == 2 and "out of memory" in refused.stderr
    recovered = belay("reap", "--all", "-p", served_board)
    assert recovered.returncode == 0, recovered.stderr
    assert (
        "out of memory: soft-reset it" in recovered.stdout or "reaped session greedy-sess" in recovered.stdout
    )
    assert belay("exec", "-p", served_board, "print('room again')").stdout.strip() == "room again"


@pytest.mark.parametrize(
    "served_board", [pytest.param("microbit", marks=pytest.mark.microbit)], indirect=True
)
def test_an_exhausted_board_is_cleaned_with_force(served_board: str) -> None:
    exhaust(served_board)
    cleaned = belay("clean", "--force", "-p", served_board)
    assert cleaned.returncode == 0, cleaned.stderr
    assert "belay_agent.py" not in footprint(served_board)[0]


STUBBORN = "def stubborn(go):\n import belay_agent\n while go[0]:\n  belay_agent.sleep_ms(5)"


def leave_a_zombie(port: str) -> None:
    """A session whose thread ignores the stop request ends: the thread runs on, a zombie."""

    async def leave() -> None:
        async with await Device.open(port) as device:
            await ensure_agent(device)
            await device.exec(calls.start_threads())
            token = "a-zombie-session-token"
            await device.exec(
                calls.begin(token, "zombie-sess", 60_000, [])
                + "\n"
                + calls.exec_code(token, STUBBORN, True)
                + "\n_g = [1]\n"
                + calls.start_thread(token, "stubborn-1", "stubborn", "(_g,)")
            )
            await device.exec(calls.end(token, 50))

    anyio.run(leave)


def still_running(port: str) -> bool:
    async def look() -> bool:
        async with await Device.open(port) as device:
            return bool(await device.eval_code("print(repr('_g' in globals()))"))

    return anyio.run(look)


@pytest.mark.parametrize("served_board", ["unix"], indirect=True)
def test_clean_says_a_zombie_thread_runs_on_and_resets_to_stop_it(served_board: str) -> None:
    leave_a_zombie(served_board)
    kept = belay("clean", "--no-reset", "-p", served_board)
    assert kept.returncode == 0, kept.stderr
    assert "thread zombie-sess/stubborn-1 was still running" in kept.stdout and "(a zombie)" in kept.stdout
    assert "only a reset stops it" in kept.stdout and "belay reset" in kept.stdout
    assert still_running(served_board)
    stop = "_g[0] = 0"  # let it end, for the next run
    assert belay("exec", "-p", served_board, f"import __main__\n__main__.{stop}").returncode == 0

    leave_a_zombie(served_board)
    reset = belay("clean", "-p", served_board)
    assert reset.returncode == 0, reset.stderr
    assert "thread zombie-sess/stubborn-1 was still running" in reset.stdout
    assert "soft-reset" in reset.stdout and "to stop the thread(s) above" in reset.stdout
    assert not still_running(served_board)  # the reset ended it (and the REPL's names)
