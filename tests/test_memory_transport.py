"""Device over the in-memory transport: the link's logic against a scripted board."""

from __future__ import annotations

import anyio
import pytest

from belay.device import Device
from belay.errors import ConnectionLostError, DeviceExecError, NotMicroPythonError
from belay.transports import BoardEnd, MemoryTransport

pytestmark = pytest.mark.anyio
BANNER = b"raw REPL; CTRL-B to exit\r\n>"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def answer(board: BoardEnd, expected: bytes, reply: bytes) -> None:
    """Wait until the host has written ``expected`` (across writes), then reply."""
    seen = b""
    while not seen.endswith(expected):
        seen += await board.sent()
    board.feed(reply)


async def synced() -> tuple[Device, BoardEnd]:
    transport, board = MemoryTransport.pair()
    device = Device.over(transport, sync_timeout=2)
    async with anyio.create_task_group() as group:
        group.start_soon(answer, board, b"\x01", b"noise before the banner " + BANNER)
        await device._link.sync(2)
    return device, board


async def test_call_output_and_remote_error_over_scripted_bytes() -> None:
    device, board = await synced()
    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            group.start_soon(answer, board, b"print(1+1)\x04", b"OK2\r\n\x04\x04>")
            assert await device.exec("print(1+1)") == "2\n"
        async with anyio.create_task_group() as group:
            group.start_soon(answer, board, b"1/0\x04", b"OK\x04Traceback:\r\nZeroDivisionError: x\r\n\x04>")
            with pytest.raises(DeviceExecError) as caught:
                await device.exec("1/0")
    assert (caught.value.remote_type, caught.value.remote_message) == ("ZeroDivisionError", "x")


async def test_background_output_before_ok_goes_to_the_unsolicited_callback() -> None:
    transport, board = MemoryTransport.pair()
    unsolicited: list[bytes] = []
    device = Device.over(transport, on_unsolicited=unsolicited.append)
    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            group.start_soon(answer, board, b"\x01", BANNER)
            await device._link.sync(2)
        async with anyio.create_task_group() as group:
            group.start_soon(answer, board, b"x\x04", b"tick\r\nOKdone\x04\x04>")
            assert await device.exec("x") == "done"
    assert b"".join(unsolicited) == b"tick\r\n"


async def test_board_disconnecting_mid_call_is_connection_lost() -> None:
    device, board = await synced()

    async def vanish() -> None:
        await board.sent()
        board.disconnect()

    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            group.start_soon(vanish)
            with pytest.raises(ConnectionLostError):
                await device.exec("while True: pass")
    assert device.is_lost


async def test_something_that_never_shows_the_banner_is_not_micropython() -> None:
    transport, board = MemoryTransport.pair()
    board.feed(b"login: ")
    device = Device.over(transport)
    with anyio.fail_after(5), pytest.raises(NotMicroPythonError, match="login"):
        await device._link.sync(1.0)


# --- reboots, as a board tells them -----------------------------------------------------


async def test_a_call_ended_by_a_soft_reboot_fails_rebooted_and_the_next_needs_no_sync() -> None:
    device, board = await synced()
    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            reply = b"OK\x04\x04MPY: soft reboot\r\n" + BANNER
            group.start_soon(answer, board, b"sys.exit()\x04", reply)
            with pytest.raises(ConnectionLostError) as caught:
                await device.exec("sys.exit()")
        assert caught.value.rebooted and device.reboots == 1 and not device.is_lost
        async with anyio.create_task_group() as group:
            group.start_soon(answer, board, b"print(1)\x04", b"OK1\r\n\x04\x04>")
            assert await device.exec("print(1)") == "1\n"
    assert board.sent_nowait() == b""  # no sync was needed: the board came back by itself


async def test_a_reboot_between_calls_fails_the_next_call_once() -> None:
    unsolicited: list[bytes] = []
    transport, board = MemoryTransport.pair()
    device = Device.over(transport, on_unsolicited=unsolicited.append)
    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            group.start_soon(answer, board, b"\x01", BANNER)
            await device._link.sync(2)
        board.feed(b"MPY: soft reboot\r\n" + BANNER)  # a reset nobody asked for
        await anyio.sleep(0.01)
        with pytest.raises(ConnectionLostError) as caught:
            await device.exec("x")
        assert caught.value.rebooted and device.reboots == 1
        assert board.sent_nowait() == b""  # the call was not sent to the fresh board
        async with anyio.create_task_group() as group:
            group.start_soon(answer, board, b"x\x04", b"OK\x04\x04>")
            assert await device.exec("x") == ""
    assert b"".join(unsolicited) == b"MPY: soft reboot\r\n"
    assert device.reboots == 1


class RebootOnce(MemoryTransport):
    """A transport that reports one reboot itself, as a virtual board may."""

    reboot_next = False

    async def receive(self, max_bytes: int = 65536) -> bytes:
        if self.reboot_next:
            self.reboot_next = False
            raise ConnectionLostError("rebooted", port=self.port, rebooted=True)
        return await super().receive(max_bytes)


async def test_a_reboot_the_transport_reports_starts_the_conversation_over() -> None:
    to_host, host_reads = anyio.create_memory_object_stream[bytes](1024)
    host_writes, from_host = anyio.create_memory_object_stream[bytes](1024)
    transport, board = RebootOnce(host_reads, host_writes), BoardEnd(to_host, from_host)
    device = Device.over(transport)
    with anyio.fail_after(5):
        async with anyio.create_task_group() as group:
            group.start_soon(answer, board, b"\x01", BANNER)
            await device._link.sync(2)
        transport.reboot_next = True
        with pytest.raises(ConnectionLostError) as caught:
            await device.exec("x")
        assert caught.value.rebooted and device.reboots == 1 and not device._link.ready
        assert board.sent_nowait() == b"x\x04"
        board.feed(b"MPY: soft reboot\r\n" + BANNER)  # the fresh protocol awaits the banner
        async with anyio.create_task_group() as group:
            group.start_soon(answer, board, b"x\x04", b"OK\x04\x04>")
            assert await device.exec("x") == ""
    assert device.reboots == 1
