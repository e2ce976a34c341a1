"""A board served on a pty: real clients (mpremote) against the real unix board, and the relay's
byte-level promises against a scripted memory board."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import termios
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
import pytest
from anyio.abc import ByteReceiveStream

from belay.device import Device
from belay.errors import ConnectionLostError, DeviceExecError, PortNotFoundError
from belay.transports.memory import BoardEnd, MemoryTransport
from belay.transports.pty_server import PtyServer, serve_on_pty
from belay.transports.unix_board import UnixBoard, find_micropython

MPREMOTE = str(Path(sys.executable).with_name("mpremote"))
KINDS = ["unix", pytest.param("microbit", marks=pytest.mark.microbit)]
"""The boards ``belay virtual-board`` serves (a test marked ``microbit`` skips without QEMU)."""


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


def _end(process: subprocess.Popen[bytes]) -> None:
    """End ``process`` by its pid and reap it, whatever state it is in."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


async def run_mpremote(path: str, *commands: str, timeout: float = 30) -> tuple[int, str, str]:
    """``mpremote connect PATH COMMANDS...``: its status, stdout and stderr; ended by its pid
    if it outlives ``timeout`` (a client waiting forever for a board's answer)."""
    process = await anyio.open_process([MPREMOTE, "connect", path, *commands], stdin=subprocess.DEVNULL)
    out, err = bytearray(), bytearray()
    try:
        with anyio.fail_after(timeout):
            async with anyio.create_task_group() as group:
                group.start_soon(_drain, process.stdout, out)
                group.start_soon(_drain, process.stderr, err)
            status = await process.wait()
    finally:
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process.pid, signal.SIGKILL)
        with anyio.CancelScope(shield=True):
            await process.aclose()
    return status, out.decode(errors="replace"), err.decode(errors="replace")


async def _drain(stream: ByteReceiveStream | None, into: bytearray) -> None:
    assert stream is not None
    async for chunk in stream:
        into += chunk


async def mpremote(path: str, *commands: str) -> str:
    """mpremote with ``resume`` (no soft reset first), which must succeed: its output."""
    return await mpremote_default(path, "resume", *commands)


async def mpremote_default(path: str, *commands: str) -> str:
    """mpremote as users run it (a soft reset before the first command), which must succeed."""
    status, out, err = await run_mpremote(path, *commands)
    assert status == 0, f"mpremote {' '.join(commands)} failed ({status}): {err}{out}"
    return out.replace("\r\n", "\n")


@pytest.fixture
def served(request: pytest.FixtureRequest) -> Iterator[str]:
    """``belay virtual-board --kind KIND`` in a process of its own: the pty it serves. Ended
    with SIGTERM (it ends its board), then by its pid if it does not stop."""
    if request.param == "unix":
        try:
            find_micropython()
        except PortNotFoundError as error:
            pytest.skip(str(error))
    command = [sys.executable, "-m", "belay", "virtual-board", "--kind", request.param]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    try:
        assert server.stdout is not None
        os.set_blocking(server.stdout.fileno(), False)
        path = _read_line(server, timeout=30)
        yield path
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            _end(server)
        if server.stdout is not None:
            server.stdout.close()


def _read_line(server: subprocess.Popen[bytes], timeout: float) -> str:
    """The first line the server prints (its pty's path), without waiting past ``timeout``."""
    assert server.stdout is not None
    seen, ends = b"", time.monotonic() + timeout
    while not seen.endswith(b"\n"):
        left = ends - time.monotonic()
        assert left > 0 and server.poll() is None, f"virtual-board printed no path ({seen!r})"
        if select.select([server.stdout], [], [], left)[0]:
            seen += os.read(server.stdout.fileno(), 4096)
    return seen.decode().strip()


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


# --- mpremote as users run it, on the boards `belay virtual-board` serves ---------------


@pytest.mark.anyio
@pytest.mark.parametrize("served", KINDS, indirect=True)
async def test_mpremote_exec_with_its_soft_reset(served: str) -> None:
    """mpremote soft-resets the board first (Ctrl-D at the raw REPL) and waits for the
    ``soft reboot`` line and the raw REPL's banner: a served unix board used to say neither."""
    assert await mpremote_default(served, "exec", "print(1)") == "1\n"
    assert await mpremote_default(served, "exec", "print(6 * 7)") == "42\n"


@pytest.mark.anyio
@pytest.mark.parametrize("served", KINDS, indirect=True)
async def test_mpremote_soft_reset_clears_ram_and_resume_keeps_it(served: str) -> None:
    await mpremote_default(served, "exec", "kept = 5")
    assert await mpremote(served, "exec", "print(kept)") == "5\n"  # resume: no reset
    await mpremote_default(served, "soft-reset")
    assert await mpremote(served, "exec", "print('kept' in globals())") == "False\n"


@pytest.mark.anyio
@pytest.mark.parametrize("served", ["unix"], indirect=True)
async def test_mpremote_fs_on_the_served_unix_board(served: str, tmp_path: Path) -> None:
    source = tmp_path / "hello.txt"
    source.write_text("hello\nboard\n")
    await mpremote_default(served, "fs", "cp", str(source), ":hello.txt")
    assert "hello.txt" in await mpremote_default(served, "fs", "ls")
    assert await mpremote_default(served, "fs", "cat", "hello.txt") == "hello\nboard\n"


@pytest.mark.anyio
@pytest.mark.microbit
@pytest.mark.parametrize("served", ["microbit"], indirect=True)
async def test_mpremote_fs_ls_on_the_served_microbit_fails_as_on_the_bare_board(served: str) -> None:
    """Its firmware (MicroPython 1.9.2) has no ``os.ilistdir``, which ``mpremote fs ls``
    needs: mpremote says so and ends, as with a real micro:bit; it does not hang."""
    status, out, err = await run_mpremote(served, "fs", "ls")
    assert status != 0 and "ilistdir" in out + err
    assert await mpremote(served, "exec", "print('still here')") == "still here\n"


@pytest.mark.anyio
async def test_mpremote_exec_of_sys_exit_reboots_the_served_unix_board_as_a_board(
    unix_board: UnixBoard,
) -> None:
    async with serve_on_pty(unix_board) as path:
        await mpremote(path, "exec", "x = 5")
        await mpremote_default(path, "exec", "import sys; sys.exit()")  # ends the interpreter
        assert await mpremote(path, "exec", "print('x' in globals())") == "False\n"
        assert unix_board.generation == 2  # mpremote's own soft reset, then sys.exit()


# --- a belay device through the served pty (pyserial: no virtual board's help) -----------


@pytest.mark.anyio
@pytest.mark.parametrize("served", ["unix"], indirect=True)
async def test_a_device_on_the_served_pty_survives_sys_exit(served: str) -> None:
    """The reboot is seen in what the board says (``MPY: soft reboot``), as on a real board:
    the call fails with ``rebooted=True``, the device counts it and goes on."""
    with anyio.fail_after(60):
        async with await Device.open(served) as device:
            await device.exec("before = 1")
            with pytest.raises(ConnectionLostError) as caught:
                await device.exec("import sys\nsys.exit()")
            assert caught.value.rebooted and device.reboots == 1 and not device.is_lost
            assert await device.eval("1 + 2") == 3
            with pytest.raises(DeviceExecError) as gone:
                await device.eval("before")
            assert gone.value.remote_type == "NameError"
            await device.soft_reset()
            assert device.reboots == 2
            with pytest.raises(ConnectionLostError) as again:
                await device.exec("import machine\nmachine.soft_reset()")
            assert again.value.rebooted and device.reboots == 3
            assert await device.eval("'back'") == "back"


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
