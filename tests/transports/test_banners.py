"""Boards that print something else first: an ESP32's reset banner as the port opens (and
deaf while it boots), a firmware's custom banner, a board stuck in its ROM bootloader, line
noise. Each is a :class:`FakeBoardPty`; those that reach a REPL relay to a real unix board."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from fake_board_pty import ESP32_BOOT, ESP32_DOWNLOAD_MODE, SYNC, FakeBoardPty, served_unix_board

from belay import DeviceSessionManager, NotMicroPythonError, SessionOptions
from belay.device import Device
from belay.link import SENT_EXCERPT

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def unix_pty() -> Iterator[str]:
    with served_unix_board() as path:
        yield path


async def _reached(board: FakeBoardPty, sync_timeout: float = 5.0) -> None:
    with anyio.fail_after(sync_timeout + 10):
        async with await Device.open(str(board.path), sync_timeout=sync_timeout) as device:
            assert await device.eval("6 * 7") == 42


async def test_an_esp32_that_resets_as_the_port_opens_is_reached_once_it_listens(
    tmp_path: Path, unix_pty: str
) -> None:
    with FakeBoardPty(tmp_path / "ttyUSB0", boot=ESP32_BOOT, deaf_for=1.0, upstream=unix_pty) as board:
        started = anyio.current_time()
        await _reached(board)
        assert board.received.count(SYNC) >= 3  # asked again while the board was booting
        assert anyio.current_time() - started < 4.0


@pytest.mark.parametrize(
    "banner",
    [
        b"\r\n*** Acme FooOS 2.1 (MicroPython inside) ***\r\nboard: acme-42\r\n>>> ",
        b"raw REPL; CTRL-B to ex",  # half a raw banner, then a friendly one
        bytes(range(256)) + b"\r\n>>> ",  # line noise at the wrong baud rate
    ],
    ids=["custom", "half-raw-banner", "noise"],
)
async def test_a_board_printing_its_own_banner_first_is_reached(
    tmp_path: Path, unix_pty: str, banner: bytes
) -> None:
    with FakeBoardPty(tmp_path / "ttyACM0", boot=banner, upstream=unix_pty) as board:
        await _reached(board)


async def test_a_board_stuck_in_its_bootloader_gets_one_error_quoting_what_it_sent(tmp_path: Path) -> None:
    with FakeBoardPty(tmp_path / "ttyUSB1", boot=ESP32_DOWNLOAD_MODE) as board:
        async with DeviceSessionManager(SessionOptions(sync_timeout=1.5)) as manager:
            started = anyio.current_time()
            with anyio.fail_after(10), pytest.raises(NotMicroPythonError) as caught:
                await manager.create_session(str(board.path))
            assert anyio.current_time() - started < 4.0
    message = str(caught.value)
    assert "\n" not in message and "\r" not in message  # one line: what it sent is escaped
    assert "waiting for download" in message and "--dtr" in message
    assert len(message) < 2 * SENT_EXCERPT + 300
    assert caught.value.port == str(board.path)  # type: ignore[attr-defined]
    assert (await manager.stats()).active == 0


async def test_a_board_sending_only_noise_is_quoted_escaped_and_bounded(tmp_path: Path) -> None:
    noise = bytes(range(256)) * 8
    board = FakeBoardPty(tmp_path / "ttyUSB2", boot=noise)
    with board, anyio.fail_after(10), pytest.raises(NotMicroPythonError) as caught:
        await Device.open(str(board.path), sync_timeout=1.0)
    message = str(caught.value)
    assert message.isprintable()
    assert "it sent ... b'" in message and len(message) < 4 * SENT_EXCERPT + 200
