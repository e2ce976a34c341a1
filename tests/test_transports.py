"""Transports for real: boards killed mid-call, processes ended on close, ptys hung up.

The virtual boards are real processes (the unix port on a pty, QEMU running the micro:bit
firmware); these tests kill them, close them under a running call, and check nothing outlives them.
"""

from __future__ import annotations

import os
import pty
import signal
import stat
from collections.abc import AsyncIterator, Callable, Iterator

import anyio
import pytest

from belay.device import Device
from belay.errors import ConnectionLostError, DeviceExecError, TransportError
from belay.transports import MicrobitBoard, SerialTransport, Transport, UnixBoard, open_transport

pytestmark = pytest.mark.anyio


def assert_process_gone(pid: int) -> None:
    """``pid`` no longer exists: killed and reaped (not a zombie)."""
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not os.path.exists(f"/proc/{pid}")


async def kill_after(delay: float, pid: int) -> None:
    await anyio.sleep(delay)
    os.kill(pid, signal.SIGKILL)


# --- boards killed ------------------------------------------------------------------


async def test_board_killed_mid_call_raises_connection_lost_promptly(
    fresh_device: Device, board: str
) -> None:
    device = fresh_device
    pid = device.transport.pid  # type: ignore[attr-defined]
    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            group.start_soon(kill_after, 0.2, pid)
            start = anyio.current_time()
            with pytest.raises(ConnectionLostError) as caught:
                await device.exec("while True: pass")
            elapsed = anyio.current_time() - start
    assert 0.2 <= elapsed < 5
    assert caught.value.rebooted is False
    assert caught.value.port == board
    assert "killed by signal 9" in str(caught.value)
    assert device.is_lost
    with anyio.fail_after(5):
        for _ in range(2):  # and every later call, without touching the dead board
            with pytest.raises(ConnectionLostError):
                await device.eval("1 + 1")
    await device.aclose()
    assert_process_gone(pid)


async def test_board_killed_between_calls_fails_the_next_call(fresh_device: Device) -> None:
    device = fresh_device
    pid = device.transport.pid  # type: ignore[attr-defined]
    assert await device.eval("40 + 2") == 42
    os.kill(pid, signal.SIGKILL)
    await anyio.sleep(0.1)
    with anyio.fail_after(5):
        with pytest.raises(ConnectionLostError) as caught:
            await device.eval("1")
        assert not caught.value.rebooted
        with pytest.raises(ConnectionLostError):
            await device.exec("print(1)")
    await device.aclose()
    assert_process_gone(pid)


async def test_closing_the_device_under_a_running_call_ends_the_call(fresh_device: Device) -> None:
    device = fresh_device
    pid = device.transport.pid  # type: ignore[attr-defined]

    async def close_soon() -> None:
        await anyio.sleep(0.2)
        await device.aclose()

    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            group.start_soon(close_soon)
            with pytest.raises(ConnectionLostError):
                await device.exec("while True: pass")
        with pytest.raises(ConnectionLostError, match="closed"):
            await device.eval("1")
    assert_process_gone(pid)


# --- every process ended ------------------------------------------------------------


async def test_closing_a_device_ends_its_board_process(board: str) -> None:
    device = await Device.open(board)
    pid = device.transport.pid  # type: ignore[attr-defined]
    os.kill(pid, 0)  # alive while open
    await device.aclose()
    assert_process_gone(pid)
    await device.aclose()  # twice is fine
    with pytest.raises(ConnectionLostError, match="closed"):
        await device.eval("1")


async def test_closing_a_bare_transport_ends_its_process(board: str) -> None:
    transport = await open_transport(board)
    pid = transport.pid  # type: ignore[attr-defined]
    assert os.path.exists(f"/proc/{pid}")
    await transport.aclose()
    assert_process_gone(pid)
    await transport.aclose()
    with pytest.raises(ConnectionLostError):
        await transport.send(b"\r")
    with pytest.raises(ConnectionLostError):
        await transport.receive()


async def test_cancelled_open_leaves_no_process(board: str, board_processes: Callable[[], set[int]]) -> None:
    # cancelled while the board starts, while it syncs, while it is probed: whatever was
    # started is ended before the open returns
    before = board_processes()
    delays = (0.005, 0.03, 0.06, 0.2) if board == "unix" else (0.02, 0.3, 1.0)
    for delay in delays:
        with anyio.fail_after(5):
            with anyio.move_on_after(delay):
                device = await Device.open(board)
                await device.aclose()  # the machine was faster than the delay
        assert board_processes() <= before, f"cancelled after {delay}s"


# --- unix board specifics -----------------------------------------------------------


@pytest.fixture
async def unix_board() -> AsyncIterator[UnixBoard]:
    board = await UnixBoard.start()
    try:
        yield board
    finally:
        await board.aclose()


async def test_unix_board_filesystem_survives_a_reboot_and_goes_on_close() -> None:
    async with await Device.open("unix") as device:
        board = device.transport
        assert isinstance(board, UnixBoard)
        flash = board.filesystem
        await device.exec("with open('kept.txt', 'w') as f:\n    f.write('across reboots')")
        assert os.path.isfile(os.path.join(flash, "kept.txt"))
        with pytest.raises(ConnectionLostError) as caught:
            await device.exec("import sys\nsys.exit(3)")
        assert caught.value.rebooted
        assert board.generation == 1
        assert await device.eval("open('kept.txt').read()") == "across reboots"
        with pytest.raises(DeviceExecError):
            await device.eval("f")  # RAM is fresh
    assert not os.path.exists(flash)


async def test_unix_board_reboot_starts_a_new_process_and_ends_the_old(unix_board: UnixBoard) -> None:
    first = unix_board.pid
    assert first is not None
    async with await Device.open("unix", transport_factory=lambda _: _ready(unix_board)) as device:
        with anyio.fail_after(10), pytest.raises(ConnectionLostError) as caught:
            await device.exec("raise SystemExit")
        assert caught.value.rebooted
        assert device.reboots == 1
        assert unix_board.pid != first
        assert_process_gone(first)
        assert await device.eval("'back'") == "back"
        second = unix_board.pid
    assert second is not None
    assert_process_gone(second)


async def _ready(transport: Transport) -> Transport:
    return transport


async def test_unix_board_that_never_prompts_is_refused() -> None:
    with anyio.fail_after(5), pytest.raises(TransportError, match="prompt"):
        await UnixBoard.start("/bin/cat", startup_timeout=0.5)


async def test_unix_board_whose_executable_exits_at_once_is_refused() -> None:
    with anyio.fail_after(5), pytest.raises(TransportError):
        await UnixBoard.start("/bin/true", startup_timeout=2)


async def said_after(board: Transport, data: bytes, ending: bytes) -> bytes:
    """What the board says after ``data`` is sent, up to ``ending`` (and nothing raised)."""
    await board.send(data)
    seen = b""
    with anyio.fail_after(10):
        while not seen.endswith(ending):
            seen += await board.receive()
    return seen


RAW_BANNER = b"raw REPL; CTRL-B to exit\r\n>"
SOFT_REBOOT = b"MPY: soft reboot\r\n"


async def test_unix_board_answers_a_soft_reset_at_the_raw_repl_as_a_board(unix_board: UnixBoard) -> None:
    """``OK``, ``MPY: soft reboot``, and the raw REPL again (the new interpreter put in raw
    mode for it, its own banner unseen), as mpremote and Thonny wait for."""
    assert (await said_after(unix_board, b"\r\x01", RAW_BANNER)).endswith(b"\r\n" + RAW_BANNER)
    assert await said_after(unix_board, b"\x04", RAW_BANNER) == b"OK\r\n" + SOFT_REBOOT + RAW_BANNER
    assert unix_board.generation == 1
    exit_reply = await said_after(unix_board, b"import sys; sys.exit()\x04", RAW_BANNER)
    assert exit_reply == b"OK\x04\x04" + SOFT_REBOOT + RAW_BANNER
    reset = await said_after(unix_board, b"import machine; machine.soft_reset()\x04", RAW_BANNER)
    assert reset == b"OK\x04\x04" + SOFT_REBOOT + RAW_BANNER
    assert await said_after(unix_board, b"print(6*7)\x04", b">") == b"OK42\n\x04\x04>"
    assert unix_board.generation == 3


async def test_unix_board_answers_a_soft_reset_at_the_friendly_repl_as_a_board(unix_board: UnixBoard) -> None:
    banner = await said_after(unix_board, b"\x02", b">>> ")  # Ctrl-B: the friendly banner again
    assert banner.startswith(b"\r\nMicroPython ") and banner.count(b">>> ") == 1
    assert await said_after(unix_board, b"\x04", b">>> ") == b"\r\n" + SOFT_REBOOT + banner[2:]
    reply = await said_after(unix_board, b"import sys; sys.exit()\r", b">>> ")
    assert reply == b"import sys; sys.exit()\r\n" + SOFT_REBOOT + banner[2:]
    assert unix_board.generation == 2


async def test_unix_board_ctrl_c_before_any_code_leaves_no_trace(unix_board: UnixBoard) -> None:
    """The PyPI unix port runs in CPython, which caught an early SIGINT and printed a
    KeyboardInterrupt traceback at the next exit (ending it "by an uncaught SIGINT")."""
    await said_after(unix_board, b"\r\x03\x03", b"\r\n>>> " * 3)  # a prompt for each byte
    reply = await said_after(unix_board, b"\x04", b">>> ")
    assert reply.startswith(b"\r\n" + SOFT_REBOOT + b"MicroPython ") and b"Traceback" not in reply
    await said_after(unix_board, b"\r\x03", b"\r\n>>> " * 2)  # and again on the fresh interpreter
    assert b"Traceback" not in await said_after(unix_board, b"\x04", b">>> ")


async def test_unix_board_bytes_sent_to_an_ended_interpreter_are_lost(unix_board: UnixBoard) -> None:
    """Nobody read that the interpreter ended: the write finds it out and reboots the board,
    and what it carried is lost (as bytes sent to a board as it reboots); what the old
    interpreter printed last is still said, before the reboot."""
    await said_after(unix_board, b"\r\x01", RAW_BANNER)
    await unix_board.send(b"import sys; sys.exit()\x04")
    await anyio.sleep(0.5)  # the interpreter has ended; nobody has read that yet
    await unix_board.send(b"print('lost')\x04")
    assert await said_after(unix_board, b"print('kept')\x04", b"\x04>") == (
        b"OK\x04\x04" + SOFT_REBOOT + RAW_BANNER + b"OKkept\n\x04\x04>"
    )


# --- micro:bit specifics ------------------------------------------------------------


@pytest.mark.microbit
async def test_microbit_board_serves_a_tty_until_closed() -> None:
    microbit = await MicrobitBoard.start()
    try:
        assert stat.S_ISCHR(os.stat(microbit.tty_path).st_mode)
        assert microbit.pacing is not None and microbit.pacing.chunk_size == 32
        await microbit.send(b"\r\x03\x03\x01")
        seen = bytearray()
        with anyio.fail_after(5):
            while b"raw REPL; CTRL-B to exit" not in seen:
                seen += await microbit.receive()
    finally:
        await microbit.aclose()
    assert_process_gone(microbit.pid)


# --- a serial port on a pty ---------------------------------------------------------


@pytest.fixture
def pty_pair() -> Iterator[tuple[int, str]]:
    master, slave = pty.openpty()
    path = os.ttyname(slave)
    os.close(slave)
    try:
        yield master, path
    finally:
        os.close(master)


async def test_serial_transport_moves_bytes_both_ways(pty_pair: tuple[int, str]) -> None:
    master, path = pty_pair
    async with await SerialTransport.open(path, paced=False) as transport:
        assert transport.receive_nowait() == b""
        await transport.send(b"\x00\x04\xff hello")
        with anyio.fail_after(2):
            await anyio.wait_readable(master)
        assert os.read(master, 100) == b"\x00\x04\xff hello"
        os.write(master, b"from the board\x04")
        with anyio.fail_after(2):
            got = bytearray()
            while len(got) < 15:
                got += await transport.receive()
        assert bytes(got) == b"from the board\x04"


async def test_serial_transport_raises_connection_lost_when_the_other_side_hangs_up() -> None:
    master, slave = pty.openpty()
    path = os.ttyname(slave)
    os.close(slave)
    async with await SerialTransport.open(path, paced=False) as transport:

        async def hang_up() -> None:
            await anyio.sleep(0.2)
            os.close(master)

        with anyio.fail_after(5):
            async with anyio.create_task_group() as group:
                group.start_soon(hang_up)
                with pytest.raises(ConnectionLostError) as caught:
                    await transport.receive()
        assert caught.value.port == path
