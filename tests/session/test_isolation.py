"""What one call or session does never reaches what it was not meant for (issue 9, items 1,
4 and 7): interrupts, the working directory, the REPL's globals, and why a session is gone."""

from __future__ import annotations

import secrets
import subprocess
import sys
import textwrap
from pathlib import Path

import anyio
import pytest
from session_helpers import agent_stats, live_session_ids, observer, port_of

from belay import DeviceSession, DeviceSessionManager, ResourceCleanupError, SessionError
from belay.agent import calls
from belay.device import Device
from belay.session.reaping import reap_board

pytestmark = pytest.mark.anyio

unix_only = pytest.mark.parametrize("manager", ["unix"], indirect=True)


async def start_counter(session: DeviceSession, sleep: str) -> None:
    await session.exec("ticks = [0]")

    counter_source = f"""
def counter():
    import belay_agent, time
    while belay_agent.running():
        ticks[0] += 1
        time.{sleep}
"""
    await session.exec(counter_source)
    await session.run(calls.start_thread(session.token, "counter-1", "counter", "()"))
    session.resources.register_background_thread("counter-1")


async def advancing(session: DeviceSession) -> bool:
    before = await session.eval("ticks[0]")
    await anyio.sleep(0.15)
    return bool(await session.eval("ticks[0]") > before)


@unix_only
@pytest.mark.parametrize("sleep", ["sleep(0.01)", "sleep_ms(10)"])
async def test_a_cancelled_call_never_stops_the_sessions_threads(
    manager: DeviceSessionManager, sleep: str
) -> None:
    async with manager.session(port_of(manager), on_output=None) as session:
        await start_counter(session, sleep)

        @session.task
        def long_task():  # type: ignore[no-untyped-def]
            while True:
                pass

        for _ in range(10):
            with anyio.move_on_after(0.15):
                await long_task()
            assert await advancing(session)
        record = await session.board_stats()
        assert record["threads"]["counter-1"] == ["running", None]
    stats = await agent_stats(observer(manager))
    assert stats["zombies"] == {} and stats["sessions"] == {}
    assert stats["reaper"] is True


@unix_only
async def test_a_timeout_in_one_session_never_stops_anothers_thread(manager: DeviceSessionManager) -> None:
    port = port_of(manager)
    async with manager.session(port, on_output=None) as a, manager.session(port, on_output=None) as b:
        await start_counter(b, "sleep(0.01)")
        for _ in range(5):
            with pytest.raises(TimeoutError):
                await a.exec("while True: pass", timeout=0.2)
            assert await advancing(b)
    stats = await agent_stats(observer(manager))
    assert stats["zombies"] == {} and stats["reaper"] is True


@unix_only
async def test_print_to_a_file_in_a_thread_writes_the_file(manager: DeviceSessionManager) -> None:
    async with manager.session(port_of(manager), on_output=None) as session:

        @session.thread
        def log():  # type: ignore[no-untyped-def]
            with open("thread.log", "w") as f:
                print("to the file", 1, file=f)
            print("to the session")  # noqa: T201 - runs on the board

        await log()
        with anyio.fail_after(5):
            while (await session.board_stats())["threads"]["log-1"][0] == "running":  # noqa: ASYNC110
                await anyio.sleep(0.02)
        assert await session.fs.get("thread.log") == b"to the file 1\n"
        assert await session.output() == "to the session\n"
        await session.fs.rm("thread.log")


@unix_only
async def test_one_sessions_chdir_moves_no_other_sessions_files(manager: DeviceSessionManager) -> None:
    port = port_of(manager)
    async with manager.session(port, on_output=None) as a, manager.session(port, on_output=None) as b:
        await b.fs.put(b"before", "shared.txt")
        await a.exec("import os\nos.mkdir('elsewhere')\nos.chdir('elsewhere')")
        assert await b.fs.get("shared.txt") == b"before"
        await b.fs.put(b"after", "late.txt")
        scratch = await b.fs.temp(b"scratch")
        assert {"shared.txt", "late.txt", scratch} <= set(await b.fs.ls(refresh=True))
        assert await a.eval("os.listdir()") == []  # nothing of b's landed in a's folder
    device = observer(manager)
    root = manager.board(port).files.root  # type: ignore[union-attr]
    assert scratch not in await device.eval(f"__import__('os').listdir({root!r})")
    await device.exec(f"import os\nos.chdir({root!r})\nfor f in ('shared.txt', 'late.txt'): os.remove(f)\n"
                      "os.rmdir('elsewhere')\ndel os, f")  # fmt: skip


async def test_sessions_leave_the_repls_globals_as_they_were(manager: DeviceSessionManager) -> None:
    async with manager.session(port_of(manager), on_output=None) as session:
        device = observer(manager)
        await device.exec("_s = 'the user'")
        names = await device.eval("sorted(globals())")
        await session.exec("x = 1")
        await session.eval("x")
        await session.output()
        await session.fs.put(b"1", "g.txt")
        await session.fs.get("g.txt")
        await session.fs.rm("g.txt")
    assert await device.eval("sorted(globals())") == names
    assert await device.eval("_s") == "the user"


async def test_a_session_ended_by_another_host_is_told_so(manager: DeviceSessionManager) -> None:
    async with manager.session(port_of(manager), on_output=None) as session:
        await reap_board(observer(manager), every=True)  # as `belay reap --all` from elsewhere
        with pytest.raises(SessionError) as gone:
            await session.eval("1")
    message = str(gone.value)
    assert "ended on the board by another host" in message and "lease" not in message
    assert session.token not in message


async def test_a_session_ended_by_code_on_the_board_is_told_so(manager: DeviceSessionManager) -> None:
    async with manager.session(port_of(manager), on_output=None) as session:
        other = await manager.create_session(port_of(manager), on_output=None)
        try:  # where exec reads its session's modules after the code (boards with threads), it says so
            await other.exec("import belay_agent\nbelay_agent.reap(1)")  # a mistake: ends every session
        except SessionError as error:
            assert "ended by code running on the board" in str(error)
        try:  # else its end does
            await manager.end_session(other.session_id)
        except ResourceCleanupError as error:
            assert "ended by code running on the board" in str(error)
        with pytest.raises(SessionError) as gone:
            await session.eval("1")
    message = str(gone.value)
    assert "ended by code running on the board" in message and "another host" not in message
    assert session.token not in message


async def test_a_sessions_handle_is_not_guessable_from_anothers(manager: DeviceSessionManager) -> None:
    async with manager.session(port_of(manager), on_output=None) as first:
        await first.exec("secret = 42")
        async with manager.session(port_of(manager), on_output=None) as second:
            assert first.handle is not None and second.handle is not None
            assert abs(first.handle - second.handle) > 1  # not issued in sequence
            for guess in (second.handle - 1, second.handle + 1):  # a neighbour is no session
                reach = f"import belay_agent\ntry:\n belay_agent.g({guess})\n r=1\nexcept KeyError:\n r=0"
                await second.exec(reach)
                assert await second.eval("r") == 0
            assert await second.eval("'secret' in globals()") is False


def two_tokens_with_one_handle() -> tuple[str, str]:
    seen: dict[int, str] = {}
    for n in range(1_000_000):
        token = f"colliding-token-{n}"
        handle = calls.handle_of(token)
        if handle in seen:
            return seen[handle], token
        seen[handle] = token
    raise AssertionError("no two tokens share a handle")


@unix_only
async def test_two_sessions_of_a_host_never_share_a_handle(
    manager: DeviceSessionManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    import belay.session.session as session_module

    tokens = iter(two_tokens_with_one_handle())
    real = session_module.secrets.token_urlsafe
    monkeypatch.setattr(session_module.secrets, "token_urlsafe", lambda n: next(tokens, None) or real(n))
    port = port_of(manager)
    async with manager.session(port, on_output=None) as first, manager.session(port, on_output=None) as two:
        assert first.handle != two.handle
        await first.exec("where = 'first'")
        await two.exec("where = 'second'")
        assert (await first.eval("where"), await two.eval("where")) == ("first", "second")


@unix_only
async def test_a_session_whose_token_was_redrawn_for_its_handle_is_one_session_everywhere(
    manager: DeviceSessionManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second of two sessions whose tokens share a handle gets another token, and every
    part of it names the session by that one: its files as its calls (the crowd soak's put once
    named a token the board never held, the first it was given)."""
    tokens = iter(two_tokens_with_one_handle())
    real = secrets.token_urlsafe
    monkeypatch.setattr(secrets, "token_urlsafe", lambda n: next(tokens, None) or real(n))
    port = port_of(manager)
    async with manager.session(port, on_output=None) as first, manager.session(port, on_output=None) as two:
        assert calls.handle_of(first.token) != calls.handle_of(two.token)
        await two.fs.put(b"mine", "redrawn.bin", temporary=True)
        assert two.fs.temporary_files() == ["redrawn.bin"]
        assert await two.eval("open('redrawn.bin').read()") == "mine"
    async with manager.session(port, on_output=None) as after:
        assert await after.eval("'redrawn.bin' in __import__('os').listdir()") is False  # ended with it


async def test_a_session_on_a_board_that_rebooted_is_told_so(manager: DeviceSessionManager) -> None:
    async with manager.session(port_of(manager), on_output=None) as session:
        await session.eval("1")
        await observer(manager).soft_reset()
        with pytest.raises(SessionError, match="rebooted"):
            await session.eval("1")
    async with manager.session(port_of(manager), on_output=None) as again:  # the agent comes back
        assert await again.eval("1 + 1") == 2


HOST_SCRIPT = """
import sys, anyio
from belay import DeviceSessionManager, SessionOptions

async def main():
    async with DeviceSessionManager(SessionOptions(cleanup_timeout=10)) as manager:
        async with manager.session(sys.argv[1], on_output=None) as session:
            await session.exec("ticks = [0]")

            @session.thread
            def counter():
                import belay_agent, time
                while belay_agent.running():
                    ticks[0] += 1
                    time.sleep_ms(10)

            @session.task
            def long_task():
                while True:
                    pass

            await counter()
            print("calling", flush=True)
            await long_task()

anyio.run(main)
"""


@pytest.mark.parametrize("served_board", ["unix"], indirect=True)
async def test_sigint_to_the_host_mid_call_ends_the_session_and_its_thread_cleanly(
    served_board: str, tmp_path: Path
) -> None:
    script = tmp_path / "host.py"
    script.write_text(textwrap.dedent(HOST_SCRIPT))
    host = subprocess.Popen(  # noqa: ASYNC220 - started once, waited for in a worker thread
        [sys.executable, str(script), served_board],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert host.stdout is not None
        with anyio.fail_after(30):
            line = await anyio.to_thread.run_sync(host.stdout.readline)
        assert line == "calling\n", host.stderr.read() if host.stderr else ""
        await anyio.sleep(0.3)
        host.send_signal(2)  # SIGINT, as Ctrl-C in the host's terminal
        _, errors = await anyio.to_thread.run_sync(lambda: host.communicate(timeout=30))
        assert "KeyboardInterrupt" in errors
        assert "did not stop" not in errors and "did not end cleanly" not in errors
    finally:
        host.kill()
        host.wait()
    async with await Device.open(served_board) as device:
        stats = await agent_stats(device)
        assert await live_session_ids(device) == []
        assert stats["zombies"] == {} and stats["reaper"] is True
