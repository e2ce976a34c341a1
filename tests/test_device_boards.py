"""Device on both virtual boards, for real: calls, values, errors, interrupts, lost boards."""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import AsyncIterator

import anyio
import pytest

from belay.device import Device
from belay.errors import (
    ConnectionLostError,
    DeviceExecError,
    DeviceTimeoutError,
    PortBusyError,
    PortNotFoundError,
)
from belay.transports import MicrobitBoard, SerialTransport

pytestmark = pytest.mark.anyio

NO_QEMU = pytest.mark.skipif(shutil.which("qemu-system-arm") is None, reason="qemu-system-arm missing")
BOARDS = ["unix", pytest.param("microbit", marks=[pytest.mark.microbit, NO_QEMU])]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=BOARDS)
async def device(request: pytest.FixtureRequest) -> AsyncIterator[Device]:
    async with await Device.open(request.param) as opened:
        yield opened


async def test_exec_returns_what_the_code_printed(device: Device) -> None:
    assert await device.exec("for i in range(3): print(i)") == "0\n1\n2\n"


@pytest.mark.parametrize(
    "value",
    [None, True, False, 0, -7, 123456, 2.5, "", "héllo", "tab\there", b"\x00\x04\xff", bytearray(b"ab"),
     (), (1,), [1, [2, (3, "x")]], {"a": 1, 2: [None]}, {1, 2}, set()],
)  # fmt: skip
async def test_eval_brings_back_every_literal_type(device: Device, value: object) -> None:
    await device.exec(f"v = {value!r}")
    assert await device.eval("v") == value


async def test_big_integers_on_the_unix_board() -> None:
    async with await Device.open("unix") as device:
        assert await device.eval("2 ** 100") == 2**100


async def test_code_holding_control_bytes_round_trips(device: Device) -> None:
    await device.exec("s = '\x04>\x01\x03'")
    assert await device.eval("s") == "\x04>\x01\x03"
    assert await device.eval("len(s)") == 4


async def test_output_holding_ctrl_d_is_not_mistaken_for_the_end(device: Device) -> None:
    assert await device.exec("print('a' + chr(4) + 'b')") == "a\x04b\n"
    assert await device.eval("1 + 1") == 2


async def test_syntax_error_is_a_device_exec_error(device: Device) -> None:
    with pytest.raises(DeviceExecError) as caught:
        await device.exec("def f(:")
    assert caught.value.remote_type == "SyntaxError"


async def test_runtime_error_carries_type_message_and_traceback(device: Device) -> None:
    seen: list[bytes] = []
    with pytest.raises(DeviceExecError) as caught:
        await device.exec("print('before')\n{}['missing']", on_output=seen.append)
    assert caught.value.remote_type == "KeyError"
    assert "missing" in caught.value.remote_message
    assert "Traceback" in caught.value.remote_traceback
    assert b"".join(seen).strip() == b"before"


async def test_a_megabyte_of_output_streams_and_returns_whole() -> None:
    async with await Device.open("unix") as device:
        chunks: list[bytes] = []
        text = await device.exec("for i in range(1024): print('x' * 1023)", on_output=chunks.append)
        assert len(text) == 1024 * 1024
        assert len(b"".join(chunks)) == 1024 * 1024
        assert len(chunks) > 1  # streamed, not delivered at the end


@pytest.mark.microbit
@NO_QEMU
async def test_output_streams_on_the_microbit() -> None:
    async with await Device.open("microbit") as device:
        text = await device.exec("for i in range(200): print('y' * 99)")
        assert text == ("y" * 99 + "\n") * 200


async def test_cancelled_call_interrupts_the_board_and_leaves_it_usable(device: Device) -> None:
    with anyio.fail_after(10):
        with anyio.move_on_after(0.3) as scope:
            await device.exec("while True: pass")
        assert scope.cancelled_caught
        assert await device.eval("1 + 1") == 2


async def test_timeout_interrupts_and_raises_a_timeout_error(device: Device) -> None:
    with anyio.fail_after(10):
        with pytest.raises(TimeoutError) as caught:
            await device.exec("while True: pass", timeout=0.3)
        assert isinstance(caught.value, DeviceTimeoutError)
        assert await device.eval("'still here'") == "still here"


async def test_program_longer_than_a_write_chunk_arrives_intact(device: Device) -> None:
    body = "\n".join(f"v{i} = {i} * 3" for i in range(40)) + "\nprint(sum([" + ",".join(
        f"v{i}" for i in range(40)) + "]))"  # fmt: skip
    assert len(body) > 500
    for _ in range(5):
        assert await device.exec(body) == f"{sum(i * 3 for i in range(40))}\n"


async def test_board_killed_mid_call_raises_connection_lost_promptly(device: Device) -> None:
    pid = device.transport.pid  # type: ignore[attr-defined]

    async def kill_soon() -> None:
        await anyio.sleep(0.3)
        os.kill(pid, signal.SIGKILL)

    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            group.start_soon(kill_soon)
            with pytest.raises(ConnectionLostError):
                await device.exec("while True: pass")
        with pytest.raises(ConnectionLostError):
            await device.eval("1")


async def test_unix_board_reboots_when_the_interpreter_exits() -> None:
    async with await Device.open("unix") as device:
        with pytest.raises(ConnectionLostError) as caught:
            await device.exec("import sys; sys.exit()")
        assert caught.value.rebooted
        assert device.reboots == 1
        assert await device.eval("1 + 2") == 3


async def test_closing_ends_the_board_process() -> None:
    device = await Device.open("unix")
    pid = device.transport.pid  # type: ignore[attr-defined]
    await device.aclose()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


async def test_missing_port_is_port_not_found() -> None:
    with pytest.raises(PortNotFoundError, match="/dev/belay-missing"):
        await Device.open("/dev/belay-missing")


@pytest.mark.microbit
@NO_QEMU
async def test_second_opener_of_a_port_gets_port_busy() -> None:
    async with await MicrobitBoard.start() as board:
        with pytest.raises(PortBusyError, match=board.tty_path):
            await SerialTransport.open(board.tty_path)
