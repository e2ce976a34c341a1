"""Opening what is not a usable board fails fast with the right error, naming the port.

Missing paths, directories and regular files are not ports; a port another process holds is
busy; a port where something other than MicroPython answers (an echo, a login prompt, silence)
is refused within the sync timeout. Nothing here may hang: every open runs under a deadline.
"""

from __future__ import annotations

import contextlib
import os
import pty
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import anyio
import pytest

from belay.device import Device
from belay.errors import NotMicroPythonError, PortBusyError, PortNotFoundError, TransportError
from belay.transports import MicrobitBoard, SerialTransport

pytestmark = pytest.mark.anyio

SYNC_TIMEOUT = 1.0


# --- not a port ---------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/dev/belay-no-such-port", "/nonexistent/dir/ttyACM0"])
async def test_missing_port_path_is_port_not_found(path: str) -> None:
    with anyio.fail_after(5), pytest.raises(PortNotFoundError) as caught:
        await Device.open(path)
    assert caught.value.port == path
    assert path in str(caught.value)


async def test_directory_as_port_is_port_not_found(tmp_path: Path) -> None:
    with anyio.fail_after(5), pytest.raises(PortNotFoundError) as caught:
        await Device.open(str(tmp_path))
    assert caught.value.port == str(tmp_path)
    assert str(tmp_path) in str(caught.value)
    assert "directory" in str(caught.value)


async def test_regular_file_as_port_is_port_not_found(tmp_path: Path) -> None:
    file = tmp_path / "not-a-tty"
    file.write_bytes(b"raw REPL; CTRL-B to exit\r\n>")  # even one that holds a banner
    with anyio.fail_after(5), pytest.raises(PortNotFoundError) as caught:
        await Device.open(str(file))
    assert caught.value.port == str(file)
    assert str(file) in str(caught.value)


async def test_character_device_that_is_not_a_tty_is_refused() -> None:
    with anyio.fail_after(5), pytest.raises(PortNotFoundError) as caught:
        await SerialTransport.open("/dev/null")
    assert "/dev/null" in str(caught.value)


@pytest.mark.parametrize("url", ["nosuchscheme://host:1", "socket://127.0.0.1:1"])
async def test_unusable_url_is_a_transport_error_naming_it(url: str) -> None:
    with anyio.fail_after(5), pytest.raises(TransportError) as caught:
        await Device.open(url)
    assert caught.value.port == url
    assert url in str(caught.value)


# --- busy ---------------------------------------------------------------------------


@pytest.fixture
def pty_pair() -> Iterator[tuple[int, str]]:
    """A pty whose slave path stands in for a serial port; the test holds the master."""
    master, slave = pty.openpty()
    path = os.ttyname(slave)
    os.close(slave)
    os.set_blocking(master, False)
    try:
        yield master, path
    finally:
        os.close(master)


async def test_second_opener_of_a_serial_port_gets_port_busy(pty_pair: tuple[int, str]) -> None:
    _, path = pty_pair
    async with await SerialTransport.open(path):
        with anyio.fail_after(5), pytest.raises(PortBusyError) as caught:
            await SerialTransport.open(path)
        assert caught.value.port == path
        assert path in str(caught.value)
    async with await SerialTransport.open(path):  # free again once closed
        pass


@pytest.mark.microbit
async def test_second_opener_of_the_microbit_tty_gets_port_busy() -> None:
    async with await MicrobitBoard.start() as board:
        with anyio.fail_after(5), pytest.raises(PortBusyError) as caught:
            await SerialTransport.open(board.tty_path)
        assert caught.value.port == board.tty_path
        with anyio.fail_after(5), pytest.raises(PortBusyError):
            await Device.open(board.tty_path)


# --- something answers, but not MicroPython -----------------------------------------


async def _assert_not_micropython(path: str) -> NotMicroPythonError:
    """Device.open on ``path`` fails with NotMicroPythonError within the sync timeout."""
    start = anyio.current_time()
    with anyio.fail_after(SYNC_TIMEOUT + 4), pytest.raises(NotMicroPythonError) as caught:
        await Device.open(path, sync_timeout=SYNC_TIMEOUT)
    elapsed = anyio.current_time() - start
    assert SYNC_TIMEOUT * 0.9 <= elapsed < SYNC_TIMEOUT + 1.5
    assert caught.value.port == path
    assert path in str(caught.value)
    async with await SerialTransport.open(path):  # the failed open let go of the port
        pass
    return caught.value


@contextlib.asynccontextmanager
async def socat_pty(link: Path, target: str) -> AsyncIterator[str]:
    """socat serving a pty at ``link`` whose other end is ``target`` (a socat address)."""
    socat = shutil.which("socat")
    if socat is None:
        pytest.skip("socat is not installed")
    process = await anyio.open_process(
        [socat, "-d", f"PTY,link={link},raw,echo=0", target], stderr=subprocess.DEVNULL
    )
    async with process:
        try:
            with anyio.fail_after(5):
                while not link.exists():  # noqa: ASYNC110 - socat offers nothing to wait on
                    await anyio.sleep(0.01)
            yield str(link)
        finally:
            process.terminate()
            with anyio.CancelScope(shield=True), anyio.fail_after(5):
                await process.wait()


@pytest.fixture
async def echo_port(tmp_path: Path) -> AsyncIterator[str]:
    """A pty whose other end is `cat`: every byte comes straight back."""
    async with socat_pty(tmp_path / "echo-tty", "EXEC:cat") as path:
        yield path


async def test_echoing_port_is_not_micropython(echo_port: str) -> None:
    error = await _assert_not_micropython(echo_port)
    assert b"\x03\x03\x01" in error.received  # it sent back what it was sent


async def test_port_answering_garbage_is_not_micropython(pty_pair: tuple[int, str]) -> None:
    master, path = pty_pair

    async def answer_with_garbage() -> None:
        while True:
            await anyio.wait_readable(master)
            try:
                os.read(master, 1024)
                os.write(master, b"\x1b[0m\r\nlogin: garbage> \xff\xfe\r\n")
            except OSError:  # the port was closed between two opens
                await anyio.sleep(0.01)

    async with anyio.create_task_group() as group:
        group.start_soon(answer_with_garbage)
        error = await _assert_not_micropython(path)
        group.cancel_scope.cancel()
    assert b"login: garbage" in error.received
    assert "garbage" in str(error)


async def test_silent_port_is_not_micropython(pty_pair: tuple[int, str]) -> None:
    _, path = pty_pair
    error = await _assert_not_micropython(path)
    assert error.received == b""
    assert "sent nothing" in str(error)


async def test_a_python_repl_is_not_micropython(tmp_path: Path) -> None:
    """CPython's own REPL on a pty prompts '>>> ' too, but has no raw REPL."""
    async with socat_pty(tmp_path / "python-tty", "EXEC:python3 -i -q,pty,stderr") as path:
        error = await _assert_not_micropython(path)
        assert b">>> " in error.received  # it did answer, with a prompt of its own
