"""The simulated UART line: 8N1 pacing both ways, the host's buffer ahead of a Ctrl-C, and the
``?baud=`` port string and ``--baud`` flag that put a virtual board behind it."""

from __future__ import annotations

import subprocess
import sys

import anyio
import pytest
from virtual_boards import mpremote_exec, served_virtual_board

from belay.errors import PortNotFoundError
from belay.transports import PacedLine, open_transport, virtual_baud
from belay.transports.memory import MemoryTransport
from belay.transports.paced_line import _Line

pytestmark = pytest.mark.anyio

LINE_RATE = 11_520  # bytes a second at 115200 baud, 8N1


def test_a_byte_is_handed_over_when_its_last_bit_arrives() -> None:
    line = _Line(byte_time=0.01)
    line.add(b"abc", now=100.0)
    assert line.take_due(100.009, 10) == b""
    assert line.take_due(100.0101, 10) == b"a"
    line.add(b"d", now=100.011)  # queued behind the rest: the line is still busy
    assert line.take_due(100.0301, 10) == b"bc"
    assert line.take_due(100.0399, 10) == b""
    assert line.take_due(100.0401, 10) == b"d"
    assert line.queued == 0


def test_the_port_string_names_a_baud_rate_and_nothing_else() -> None:
    assert virtual_baud("unix", "") is None
    assert virtual_baud("unix?baud=9600", "baud=9600") == 9600
    for query in ("baud=fast", "baud=0", "speed=9600", "baud=9600&baud=1200"):
        with pytest.raises(PortNotFoundError, match="baud=115200"):
            virtual_baud(f"unix?{query}", query)


async def _read_until(transport: PacedLine, ending: bytes) -> bytes:
    seen = bytearray()
    while not seen.endswith(ending):
        seen += await transport.receive()
    return bytes(seen)


async def test_11520_bytes_take_a_second_each_way_at_115200() -> None:
    async with await open_transport("unix?baud=115200") as line:
        assert isinstance(line, PacedLine) and line.port == "unix?baud=115200"
        await line.send(b"\x01")
        await _read_until(line, b">")
        code = b"x='" + b"a" * (LINE_RATE - 6) + b"'\n\x04"  # 11,520 bytes up
        start = anyio.current_time()
        with anyio.fail_after(10):
            await line.send(code)
            assert await _read_until(line, b"\x04>") == b"OK\x04\x04>"  # the board had it all
        up = anyio.current_time() - start
        await line.send(b"print('b' * 11518, end='')\x04")  # OK, 11,518 b, \x04\x04>: 11,523 down
        start = anyio.current_time()
        with anyio.fail_after(10):
            down = len(await _read_until(line, b"\x04\x04>"))
        down_time = anyio.current_time() - start
    assert down == LINE_RATE + 3
    assert 1.0 <= up < 1.5, f"11,520 bytes up took {up:.3f}s"
    assert 1.0 <= down_time < 1.5, f"{down} bytes down took {down_time:.3f}s"


async def test_the_interrupt_arrives_behind_what_was_written_before_it() -> None:
    inner, board = MemoryTransport.pair()
    line = PacedLine(inner, 9600, tx_buffer=64)
    start = anyio.current_time()
    await line.send(b"x" * 100)  # 36 bytes must leave before the rest fits
    assert anyio.current_time() - start >= 36 / 960
    await line.send(b"\x03")
    with anyio.fail_after(5):
        await line.drain()
    assert anyio.current_time() - start >= 101 / 960
    assert board.sent_nowait() == b"x" * 100 + b"\x03"


def test_belay_virtual_board_takes_a_baud_rate() -> None:
    command = [sys.executable, "-m", "belay", "virtual-board", "--kind", "unix", "--baud", "115200"]
    with served_virtual_board("unix", "--baud", "115200", ends_cleanly=True) as path:
        assert path.startswith("/dev/pts/")
        assert mpremote_exec(path, "print(6 * 7)") == (0, "42")
    bad = subprocess.run([*command[:-1], "fast"], capture_output=True, text=True, timeout=30, check=False)
    assert bad.returncode == 2 and "positive whole number" in bad.stderr
