"""A board served on a pty: real clients (mpremote) against the real unix board, and the relay's
byte-level promises against a scripted memory board."""

from __future__ import annotations

import os
import signal
import sys
import termios
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
import pytest

from belay.errors import PortNotFoundError
from belay.transports.memory import BoardEnd, MemoryTransport
from belay.transports.pty_server import PtyServer, serve_on_pty
from belay.transports.unix_board import UnixBoard

MPREMOTE = str(Path(sys.executable).with_name("mpremote"))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def unix_board() -> AsyncIterator[UnixBoard]:
    try:
        board = await UnixBoard.start()
    except PortNotFoundError as error:
        pytest.skip(str(error))
    try:
        yield board
    finally:
        await board.aclose()


async def mpremote(path: str, *commands: str) -> str:
    with anyio.fail_after(30):
        result = await anyio.run_process([MPREMOTE, "connect", path, "resume", *commands], check=False)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result.stdout.decode()


@contextmanager
def client(path: str) -> Iterator[int]:
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        yield fd
    finally:
        os.close(fd)


async def read_until(fd: int, ending: bytes, timeout: float = 5.0) -> bytes:
    seen = b""
    with anyio.fail_after(timeout):
        while not seen.endswith(ending):
            await anyio.wait_readable(fd)
            seen += os.read(fd, 65536)
    return seen


async def host_wrote(board: BoardEnd, count: int) -> bytes:
    seen = b""
    with anyio.fail_after(5):
        while len(seen) < count:
            seen += await board.sent()
    return seen


# --- real clients on the real unix board --------------------------------------------------


@pytest.mark.anyio
async def test_mpremote_runs_code_on_the_served_board_twice(unix_board: UnixBoard) -> None:
    async with serve_on_pty(unix_board) as path:
        assert await mpremote(path, "exec", "print(6*7)") == "42\n"
        assert await mpremote(path, "exec", "print(6*7)") == "42\n"


@pytest.mark.anyio
async def test_a_reboot_keeps_the_pty_served(unix_board: UnixBoard) -> None:
    async with serve_on_pty(unix_board) as path:
        await mpremote(path, "exec", "x = 5")
        await mpremote(path, "exec", "import sys; sys.exit()")  # the interpreter ends: a reboot
        assert await mpremote(path, "exec", "print('x' in globals())") == "False\n"
        assert unix_board.generation == 1


@pytest.mark.anyio
async def test_a_board_lost_for_good_ends_serving_and_closes_the_pty(unix_board: UnixBoard) -> None:
    server = PtyServer(unix_board)
    async with anyio.create_task_group() as tasks:
        path = await tasks.start(server.serve)
        assert unix_board.pid is not None
        os.kill(unix_board.pid, signal.SIGKILL)
        with anyio.fail_after(5):
            await server.stopped.wait()
    assert server.lost is not None
    assert not server.lost.rebooted
    assert not os.path.exists(path)


# --- the relay's promises, against a scripted board --------------------------------------


@pytest.mark.anyio
async def test_the_client_end_is_fully_raw_and_bytes_pass_unchanged() -> None:
    transport, board = MemoryTransport.pair()
    every_byte = bytes(range(256))
    async with serve_on_pty(transport) as path:
        with client(path) as fd:
            lflag = termios.tcgetattr(fd)[3]
            assert not lflag & (termios.ECHO | termios.ICANON | termios.ISIG)
            os.write(fd, every_byte)  # Ctrl-C, Ctrl-D, CR, LF, XON/XOFF: all plain data
            assert await host_wrote(board, 256) == every_byte
            board.feed(every_byte + b"END")
            assert await read_until(fd, b"END") == every_byte + b"END"  # and nothing echoed


@pytest.mark.anyio
async def test_clients_may_close_and_reopen_the_path() -> None:
    transport, board = MemoryTransport.pair()
    async with serve_on_pty(transport) as path:
        for attempt in (b"first", b"second", b"third"):
            with client(path) as fd:
                os.write(fd, attempt)
                assert await host_wrote(board, len(attempt)) == attempt
                board.feed(attempt.upper())
                assert await read_until(fd, attempt.upper()) == attempt.upper()


@pytest.mark.anyio
async def test_output_nobody_reads_is_dropped_instead_of_stalling_the_board() -> None:
    transport, board = MemoryTransport.pair()
    server = PtyServer(transport, stall_timeout=0.05)
    async with anyio.create_task_group() as tasks:
        path = await tasks.start(server.serve)
        for _ in range(400):  # 400 KB with no client: far beyond what a pty buffers
            board.feed(b"." * 1024)
        with client(path) as fd:
            os.write(fd, b"ping")
            assert await host_wrote(board, 4) == b"ping"
            board.feed(b"pong")
            assert (await read_until(fd, b"pong", timeout=30)).endswith(b"pong")
        tasks.cancel_scope.cancel()


@pytest.mark.anyio
async def test_a_disconnected_board_ends_serving() -> None:
    transport, board = MemoryTransport.pair()
    server = PtyServer(transport)
    async with anyio.create_task_group() as tasks:
        await tasks.start(server.serve)
        board.disconnect()
        with anyio.fail_after(5):
            await server.stopped.wait()
    assert server.lost is not None
