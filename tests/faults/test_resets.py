"""Boards that hard-reset (a reset button, ``machine.reset()``, a watchdog): told from what they
print, on both virtual boards; the call in flight fails at once, the sessions on the board are
LOST, and the next session on the same manager loads the agent again and works.

The unix board resets the way a board whose watchdog fires does: its interpreter is killed
(here by board code, ``kill -9 $PPID``, or by the host) and a fresh one comes up at the
friendly REPL with its firmware banner, nothing else (``UnixBoard.restart_when_killed``, what
``belay virtual-board`` serves). The micro:bit runs ``microbit.reset()``.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from functools import partial

import anyio
import pytest

from belay import DeviceSessionManager, SessionOptions
from belay.device import Device
from belay.errors import ConnectionLostError, SessionError
from belay.session.manager import open_device
from belay.session.state import SessionState
from belay.transports import Transport, open_transport
from belay.transports.unix_board import UnixBoard

pytestmark = pytest.mark.anyio

RESET = {
    "unix": "import os\nos.system('kill -9 $PPID')\nimport time\ntime.sleep(5)",
    "microbit": "import microbit\nmicrobit.reset()",
}
"""Board code that hard-resets the board it runs on."""

GUARD = 30
"""Seconds after which a test that hangs fails (no call here has a deadline that short)."""


async def resetting_transport(port: str) -> Transport:
    transport = await open_transport(port)
    board = getattr(transport, "inner", transport)  # behind a simulated line
    if isinstance(board, UnixBoard):
        board.restart_when_killed = True
    return transport


def manager() -> DeviceSessionManager:
    options = SessionOptions(call_timeout=120)  # a call that waited for its deadline fails the guard
    return DeviceSessionManager(
        options, device_opener=partial(open_device, transport_factory=resetting_transport)
    )


def assert_hard_reset(error: BaseException, board: str) -> None:
    assert isinstance(error, ConnectionLostError), repr(error)
    assert error.rebooted
    message = str(error)
    assert f"the board on {board} rebooted (a hard reset)" in message
    assert "MicroPython" in message and ">>> " in message  # what it printed, quoted
    assert len(message) < 300


async def test_a_hard_reset_during_a_call_fails_it_at_once_and_the_next_session_works(board: str) -> None:
    async with manager() as sessions:
        first = await sessions.create_session(board)
        other = await sessions.create_session(board)
        with anyio.fail_after(GUARD), pytest.raises(ConnectionLostError) as caught:
            await first.exec(RESET[board])
        assert_hard_reset(caught.value, board)
        assert first.state is SessionState.LOST
        assert other.state is SessionState.LOST  # at once, not at its next call
        with anyio.fail_after(GUARD), pytest.raises(SessionError, match="rebooted"):
            await other.eval("1")
        assert other.state is SessionState.LOST
        with anyio.fail_after(GUARD):
            async with sessions.session(board) as again:  # the agent is loaded again
                assert await again.eval("6 * 7") == 42
        for session in (first, other):
            await sessions.end_session(session.session_id)


async def test_a_hard_reset_between_calls_fails_the_next_call_at_once(board: str) -> None:
    async with manager() as sessions:
        session = await sessions.create_session(board)
        assert await session.eval("1 + 1") == 2
        board_of = sessions.board(board)
        assert board_of is not None
        transport = board_of.device.transport
        await transport.send(RESET[board].encode() + b"\x04")  # behind belay's back: a watchdog
        await anyio.sleep(1.5)  # the board resets meanwhile; nobody reads
        with anyio.fail_after(GUARD), pytest.raises((ConnectionLostError, SessionError)) as caught:
            await session.eval("1")
        assert "rebooted" in str(caught.value)
        assert session.state is SessionState.LOST
        await sessions.end_session(session.session_id)
        with anyio.fail_after(GUARD):
            async with sessions.session(board) as again:
                assert await again.eval("6 * 7") == 42


async def test_a_hard_reset_as_a_session_ends_leaves_the_next_session_working(board: str) -> None:
    async with manager() as sessions:
        async with sessions.session(board) as session:
            await session.exec("x = 1")
            board_of = sessions.board(board)
            assert board_of is not None
            await board_of.device.transport.send(RESET[board].encode() + b"\x04")
            await anyio.sleep(1.5)
        assert session.state in (SessionState.LOST, SessionState.CLOSED)
        with anyio.fail_after(GUARD):
            async with sessions.session(board) as again:
                assert await again.eval("'x' in globals()") is False


async def kill_soon(pid: int, delay: float) -> None:
    await anyio.sleep(delay)
    os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("what", ["put", "generator", "thread", "calls"])
async def test_a_unix_board_reset_under_work_loses_the_session_not_the_manager(what: str) -> None:
    async with manager() as sessions:
        session = await sessions.create_session("unix")
        board_of = sessions.board("unix")
        assert board_of is not None
        pid = board_of.device.transport.pid  # type: ignore[attr-defined]
        if what == "thread":

            @session.thread
            def spin() -> None:
                import belay_agent  # type: ignore[import-not-found]

                while belay_agent.running():
                    pass

            await spin()
        caught: list[BaseException] = []

        async def work() -> None:
            try:
                if what == "put":
                    for _ in range(50):
                        await session.fs.put(os.urandom(64 * 1024), "big.bin")
                elif what == "generator":
                    async for _ in count():
                        pass
                else:
                    while True:
                        await session.eval("1")
            except (ConnectionLostError, SessionError) as error:
                caught.append(error)

        @session.task
        def count():  # type: ignore[no-untyped-def]
            import time

            n = 0
            while True:
                time.sleep_ms(20)
                yield n
                n += 1

        with anyio.fail_after(GUARD):
            async with anyio.create_task_group() as group:
                group.start_soon(kill_soon, pid, 0.3)
                group.start_soon(work)
        assert len(caught) == 1
        assert "rebooted" in str(caught[0])
        assert session.state is SessionState.LOST
        await sessions.end_session(session.session_id)
        with anyio.fail_after(GUARD):
            async with sessions.session("unix") as again:
                assert await again.eval("6 * 7") == 42


@pytest.mark.parametrize("line", ["", "?baud=115200"], ids=["direct", "115200-baud"])
async def test_a_device_call_after_a_hard_reset_finds_the_raw_repl_again(board: str, line: str) -> None:
    async with await Device.open(board + line, transport_factory=resetting_transport) as device:
        with anyio.fail_after(GUARD), pytest.raises(ConnectionLostError) as caught:
            await device.exec(RESET[board])
        assert_hard_reset(caught.value, board + line)
        assert device.reboots == 1 and not device.is_lost
        with anyio.fail_after(GUARD):
            assert await device.eval("2 + 3") == 5


STALE = ".belay-0123456789ab-1.part"
"""A partial file of a put by a session no board holds (its host was killed, or the board reset)."""


def make_file(name: str) -> str:
    return f"f=open({name!r},'w')\nf.write('x')\nf.close()\ndel f"


async def test_after_a_reset_the_next_session_removes_every_partial_file(board: str) -> None:
    async with manager() as sessions:
        live = await sessions.create_session(board)
        board_of = sessions.board(board)
        assert board_of is not None
        device = board_of.device
        own = f".belay-{live.session_id}-1.part"
        for name in (STALE, own):
            await device.exec(make_file(name))
        with anyio.fail_after(GUARD), pytest.raises(ConnectionLostError):
            await device.exec(RESET[board])  # the agent is loaded again by the next session
        with anyio.fail_after(GUARD):
            async with sessions.session(board):
                names = await device.eval("__import__('os').listdir()")
        assert STALE not in names and own not in names  # the board holds neither session now
        await sessions.end_session(live.session_id)


def resetting_teardown(board: str) -> Callable[[], None]:
    """A teardown that hard-resets ``board`` (run on the board as the session ends)."""
    if board == "unix":

        def bye() -> None:
            import os
            import time

            os.system("kill -9 $PPID")
            time.sleep(5)

        return bye

    def bye_microbit() -> None:
        import microbit  # type: ignore[import-not-found]

        microbit.reset()

    return bye_microbit


async def test_a_hard_reset_during_a_session_s_end_ends_it_lost_without_a_hang(board: str) -> None:
    async with manager() as sessions:
        with anyio.fail_after(GUARD):
            async with sessions.session(board) as session:
                session.teardown(resetting_teardown(board))
                await session.exec("x = 1")
        assert session.state is SessionState.LOST  # nothing of it is left on the board
        with anyio.fail_after(GUARD):
            async with sessions.session(board) as again:
                assert await again.eval("'x' in globals()") is False
