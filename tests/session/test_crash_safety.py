"""The bad days, for real: a host killed with SIGKILL, a cable pulled under a call, a board
killed and restarted. Boards are served_board on a pty by ``belay virtual-board`` in a process of
their own, so they outlive the hosts that use them, as a board on a desk does.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import pytest
from session_helpers import BOARDS, agent_stats, exec_call, live_session_ids

from belay import DeviceSessionManager, SessionOptions
from belay.agent import calls
from belay.device import Device
from belay.errors import BoardOutOfMemoryError, ConnectionLostError, DeviceExecError, DeviceValueError
from belay.journal import FileJournal
from belay.session.manager import open_device
from belay.session.state import SessionState
from belay.transports import Transport, open_transport

pytestmark = pytest.mark.anyio

HEAP_MARGIN = 512
"""Bytes the board's free heap may differ by after a reap (the micro:bit's heap fragments)."""


on_each_served_board = pytest.mark.parametrize("served_board", BOARDS, indirect=True)
"""Each virtual board in turn, served_board by another process (tests/conftest.py's ``served_board``)."""


async def free_heap(device: Device) -> int:
    """Free heap after a collection. A board keeps its last uncaught exception alive until the
    next one, so a tiny one is raised first."""
    with pytest.raises(DeviceExecError):
        await device.exec("raise KeyError")
    free = await device.eval_code("import gc\ngc.collect()\ngc.collect()\nprint(gc.mem_free())")
    assert isinstance(free, int)
    return free


# --- the host dies -------------------------------------------------------------------------

DEAD_HOST = textwrap.dedent(
    """
    import sys, time, anyio
    from belay import DeviceSessionManager, SessionOptions

    async def main(port):
        async with DeviceSessionManager(SessionOptions(lease=1.0)) as manager:
            session = await manager.create_session(port)

            @session.task
            def fill(n):
                global data
                data = [bytearray(32) for _ in range(n)]
                return len(data)

            await fill(20 if session.capabilities.threads else 10)  # ~5 KB left on a micro:bit
            scratch = await session.fs.temp(b"x" * 300, ".bin")
            if session.capabilities.threads:
                @session.thread
                def beat():
                    import belay_agent, __main__
                    while belay_agent.running():
                        __main__.beats[0] += 1
                        belay_agent.sleep_ms(10)

                await beat()

                @session.task
                def tick():
                    import __main__
                    __main__.ticks[0] += 1

                await session.timer(tick, period_ms=20)
            print(session.session_id, scratch, flush=True)
            if sys.argv[2] == "clean":
                await manager.end_session(session.session_id)
            else:
                await anyio.sleep(3600)

    anyio.run(main, sys.argv[1])
    """
)


@on_each_served_board
async def test_a_killed_hosts_session_is_reaped_within_its_lease(served_board: str, tmp_path: Path) -> None:
    script = tmp_path / "host.py"
    script.write_text(DEAD_HOST)
    # The baseline: the same host ending its session cleanly. (What a board compiles leaves its
    # new names interned until it resets, so only the same code run before compares fairly.)
    async with await open_device(served_board, SessionOptions()) as device:
        threads = device.capabilities.threads
        if threads:
            await device.exec("beats = [0]\nticks = [0]")
    async with await anyio.open_process([sys.executable, str(script), served_board, "clean"]) as clean:
        assert await clean.wait() == 0
    async with await open_device(served_board, SessionOptions()) as device:
        baseline = await free_heap(device)
    dead_id, scratch = await run_and_kill(script, served_board)
    journal = tmp_path / "journal.jsonl"
    await anyio.sleep(1.6)  # past the lease (and a reaper period) with no host at all
    async with DeviceSessionManager(SessionOptions(journal_path=journal)) as manager:
        async with manager.session(served_board) as session:  # begin reaps what is left (no threads)
            device = manager.board(served_board).device  # type: ignore[union-attr]
            # (small calls only: the raw REPL's input buffer keeps the size of the longest)
            assert await live_session_ids(device) == [session.session_id]
            assert scratch not in await session.fs.ls(refresh=True)
            if threads:
                await assert_stopped(device, "beats[0]")
                await assert_stopped(device, "ticks[0]")
        assert await free_heap(device) >= baseline - HEAP_MARGIN
    reaped = [event for event in FileJournal(journal).events() if event["event"] == "reaped"]
    assert [(event["session_id"], event["reason"]) for event in reaped] == [(dead_id, "lease")]


HOG_HOST = textwrap.dedent(
    """
    import sys, anyio
    from belay import DeviceSessionManager, SessionOptions

    async def main(port):
        async with DeviceSessionManager(SessionOptions(lease=1.0)) as manager:
            session = await manager.create_session(port)
            await session.exec("hog = [bytearray(200) for _ in range(24)]")  # the heap in 200 B pieces
            print(session.session_id, flush=True)
            await anyio.sleep(3600)

    anyio.run(main, sys.argv[1])
    """
)


@pytest.mark.parametrize("served_board", ["microbit"], indirect=True)
async def test_a_board_a_dead_host_left_too_full_to_probe_opens_after_its_lease(
    served_board: str, tmp_path: Path
) -> None:
    """The next host's probe does not fit beside the dead session's data: the expired session
    is ended first (a short call), and reported by the new session's begin."""
    script = tmp_path / "hog.py"
    script.write_text(HOG_HOST)
    (dead_id,) = await run_and_kill(script, served_board)
    with pytest.raises(BoardOutOfMemoryError):  # too full to probe, for a device that makes no room
        await Device.open(served_board)
    await anyio.sleep(1.2)  # past the lease
    async with DeviceSessionManager(SessionOptions()) as manager, manager.session(served_board) as session:
        assert await session.eval("1 + 1") == 2
        board = manager.board(served_board)
        assert board is not None and dead_id not in await live_session_ids(board.device)


async def run_and_kill(script: Path, port: str) -> list[str]:
    """Run the host ``script`` until it prints its first line, then SIGKILL it: that line's words."""
    async with await anyio.open_process([sys.executable, str(script), port, "killed"]) as host:
        try:
            assert host.stdout is not None
            received = b""
            with anyio.fail_after(60):
                while not received.endswith(b"\n"):
                    received += await host.stdout.receive()
        finally:
            host.kill()  # SIGKILL: no cleanup of any kind runs in the host
            await host.wait()
    assert host.returncode == -signal.SIGKILL
    return received.decode().split()


async def assert_stopped(device: Device, counter: str) -> None:
    first = await device.eval(counter)
    await anyio.sleep(0.2)
    assert await device.eval(counter) == first, f"{counter} still moves after its session was reaped"


# --- the cable is pulled, and put back ------------------------------------------------------


class Cables:
    """A transport factory that remembers what it opened, so a test can pull the cable."""

    def __init__(self) -> None:
        self.opened: list[Transport] = []

    async def __call__(self, port: str) -> Transport:
        transport = await open_transport(port)
        self.opened.append(transport)
        return transport

    async def pull(self) -> None:
        await self.opened[-1].aclose()


@pytest.fixture
async def cabled(tmp_path: Path) -> AsyncIterator[tuple[DeviceSessionManager, Cables, Path]]:
    cables = Cables()
    journal = tmp_path / "journal.jsonl"

    async def opener(port: str, options: SessionOptions) -> Device:
        return await open_device(port, options, cables)

    options = SessionOptions(journal_path=journal)
    async with DeviceSessionManager(options, device_opener=opener) as manager:
        yield manager, cables, journal


@on_each_served_board
async def test_a_pulled_cable_loses_every_session_and_the_board_comes_back_clean(
    served_board: str, cabled: tuple[DeviceSessionManager, Cables, Path]
) -> None:
    manager, cables, journal = cabled
    busy = await manager.create_session(served_board)
    other = await manager.create_session(served_board)
    await other.exec("data = bytearray(600)")
    lost_ids = {busy.session_id, other.session_id}

    async def pull_soon() -> None:
        await anyio.sleep(0.3)
        await cables.pull()

    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            group.start_soon(pull_soon)
            with pytest.raises(ConnectionLostError):
                await busy.exec("import belay_agent\nbelay_agent.sleep_ms(3000)")
    assert busy.state is SessionState.LOST
    with pytest.raises(ConnectionLostError):
        await other.eval("1")
    assert other.state is SessionState.LOST
    # The board did not reboot: the next session finds what the lost ones left, and ends it.
    async with manager.session(served_board) as fresh:
        stats = await agent_stats(manager.board(served_board).device)  # type: ignore[union-attr]
        assert set(stats["sessions"]) == {fresh.session_id}
        assert manager.board(served_board).last_install.bytes_sent == 0  # type: ignore[union-attr]
    for session in (busy, other):
        await manager.end_session(session.session_id)  # nothing to do, and no error: it was lost
    events = FileJournal(journal).events()
    reaped = {event["session_id"] for event in events if event["event"] == "reaped"}
    assert reaped == lost_ids
    assert all(event["reason"] == "lost" for event in events if event["event"] == "reaped")
    assert any(event["event"] == "board-lost" for event in events)


async def test_a_killed_board_loses_its_sessions_and_a_restarted_one_gets_the_agent_again() -> None:
    async with DeviceSessionManager() as manager:
        first = await manager.create_session("unix")
        second = await manager.create_session("unix")
        board = manager.board("unix")
        assert board is not None
        pid = board.device.transport.pid  # type: ignore[attr-defined]

        async def kill_soon() -> None:
            await anyio.sleep(0.3)
            os.kill(pid, signal.SIGKILL)

        with anyio.fail_after(10):
            async with anyio.create_task_group() as group:
                group.start_soon(kill_soon)
                with pytest.raises(ConnectionLostError):
                    await first.exec("import time\ntime.sleep(5)")
        with pytest.raises(ConnectionLostError):
            await second.eval("1")
        assert (first.state, second.state) == (SessionState.LOST, SessionState.LOST)
        async with manager.session("unix") as again:
            assert await again.eval("6 * 7") == 42
            assert manager.board("unix").last_install.bytes_sent > 0  # type: ignore[union-attr]
        for session in (first, second):
            await manager.end_session(session.session_id)
        assert manager.list_sessions() == []


# --- one session cannot touch another's things ---------------------------------------------


@on_each_served_board
async def test_a_session_cannot_read_write_or_remove_another_sessions_temp_file(served_board: str) -> None:
    async with (
        DeviceSessionManager() as manager,
        manager.session(served_board) as owner,
        manager.session(served_board) as other,
    ):
        path = await owner.fs.temp(b"mine", ".txt")
        for attempt in (other.fs.get(path), other.fs.put(b"yours", path), other.fs.rm(path)):
            with pytest.raises(DeviceValueError, match=owner.session_id) as refused:
                await attempt
            assert owner.token not in str(refused.value)  # the owner's id is named, never its token
        assert await owner.fs.get(path) == b"mine"
        assert owner.resources.stats().by_type.get("file") == 1


# --- belay reap ------------------------------------------------------------------------------


async def abandon_a_session(port: str, session_id: str, lease_ms: int = 200) -> None:
    """What a host that died leaves: a session on the board nobody renews."""
    async with DeviceSessionManager() as manager:
        async with manager.session(port):  # loads the agent
            pass
        device = manager.board(port).device  # type: ignore[union-attr]
        await device.exec(calls.begin("its-token-0123456", session_id, lease_ms, []))
        await device.exec(exec_call(device, "its-token-0123456", "kept = bytearray(300)"))


def belay(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "belay", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


@on_each_served_board
async def test_belay_reap_ends_silent_sessions_and_journals_them(served_board: str, tmp_path: Path) -> None:
    await abandon_a_session(served_board, "deadbeef")
    await anyio.sleep(0.5)
    journal = tmp_path / "reaps.jsonl"
    result = await anyio.to_thread.run_sync(belay, "reap", "--port", served_board, "--journal", str(journal))
    assert result.returncode == 0, result.stderr
    assert "reaped session deadbeef" in result.stdout
    lines = [json.loads(line) for line in journal.read_text().splitlines()]
    assert [(line["event"], line["session_id"]) for line in lines] == [("reaped", "deadbeef")]
    again = await anyio.to_thread.run_sync(belay, "reap", "--port", served_board, "--journal", str(journal))
    assert again.returncode == 0, again.stderr
    assert f"nothing to reap on {served_board}" in again.stdout


@on_each_served_board
async def test_belay_reap_all_ends_even_live_sessions(served_board: str, tmp_path: Path) -> None:
    await abandon_a_session(served_board, "cafe0001", lease_ms=600_000)  # its lease is far from out
    result = await anyio.to_thread.run_sync(
        belay, "reap", "--all", "--port", served_board, "--journal", str(tmp_path / "j.jsonl")
    )
    assert result.returncode == 0, result.stderr
    assert "reaped session cafe0001" in result.stdout
