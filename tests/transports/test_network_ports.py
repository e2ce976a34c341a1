"""``socket://`` and ``rfc2217://`` ports at their speed, recovered as fast as the pty, on the
real unix board served by ``belay virtual-board`` behind socat or the RFC 2217 bridge."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import anyio
import pytest
from network_ports import network_port

from belay.device import Device
from belay.errors import ConnectionLostError, PortNotFoundError
from belay.transports import SerialTransport, Transport

pytestmark = pytest.mark.anyio

MEGABYTE_ANSWER = "for _ in range(10):\n    print('x' * 99999)"
FLOOD = "while True:\n    print('y' * 100)"


def counting_factory(pieces: list[int]) -> Callable[[str], Awaitable[Transport]]:
    """Opens the port as the default factory does, noting the size of every piece received."""

    async def open_port(port: str) -> Transport:
        transport = await SerialTransport.open(port)
        receive = transport.receive

        async def counted(max_bytes: int = 65536) -> bytes:
            data = await receive(max_bytes)
            pieces.append(len(data))
            return data

        transport.receive = counted  # type: ignore[method-assign]
        return transport

    return open_port


async def test_a_megabyte_answer_arrives_in_large_pieces_and_fast(network_url: str) -> None:
    pieces: list[int] = []
    device = await Device.open(network_url, transport_factory=counting_factory(pieces))
    async with device:
        pieces.clear()
        started = time.perf_counter()
        output = await device.exec(MEGABYTE_ANSWER, timeout=10)
        took = time.perf_counter() - started
    assert output == ("x" * 99999 + "\n") * 10
    assert sum(pieces) / len(pieces) >= 1024, f"{len(pieces)} pieces for 1 MB"  # was 2 B on socket://
    assert took < 1.0, f"1 MB took {took:.2f}s"  # was 50 s on socket://, 3.3 s on rfc2217://


async def test_a_cancelled_flood_of_output_recovers_within_a_second(any_port: str) -> None:
    async with await Device.open(any_port) as device:
        for _ in range(2):
            seen = bytearray()
            with anyio.move_on_after(0.5) as scope:
                await device.exec(FLOOD, on_output=seen.extend)
            recovery = anyio.current_time() - scope.deadline
            assert recovery < 1.0, f"recovered {recovery:.2f}s after the cancel on {any_port}"
            assert scope.cancelled_caught and len(seen) > 100_000, f"only {len(seen)} bytes of flood seen"
            assert await device.eval("1 + 1", timeout=2) == 2


async def test_every_byte_value_crosses_both_ways(network_url: str) -> None:
    """0xFF is Telnet's IAC: doubled on the way out and in over rfc2217://, never over socket://."""
    async with await Device.open(network_url) as device:
        sent = await device.call(b"print(list(b'\xff\xfe\xff\xff-'))")
        assert sent.output == b"[255, 254, 255, 255, 45]\n"
        every = bytes(range(5, 256)) * 4  # \x04 would end the raw REPL's frame
        received = await device.call("import sys\nsys.stdout.buffer.write(bytes(range(5, 256)) * 4)")
        assert received.output == every


@pytest.mark.parametrize("kind", ["socket", "rfc2217"])
async def test_a_network_port_that_goes_away_is_a_lost_connection(served_board: str, kind: str) -> None:
    with network_port(kind, served_board) as url:
        device = await Device.open(url)
    async with device:  # the relay has ended: its TCP connection is closed
        with anyio.fail_after(5), pytest.raises(ConnectionLostError) as caught:
            await device.eval("1 + 1")
    assert caught.value.port == url


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("rfc2217://127.0.0.1:1", "refused"),
        ("rfc2217://127.0.0.1", "expected rfc2217://host:port"),
        ("rfc2217://127.0.0.1:1?baud=9600", "unknown option 'baud'"),
    ],
)
async def test_an_unusable_rfc2217_url_is_a_port_not_found_naming_it(url: str, says: str) -> None:
    with anyio.fail_after(5), pytest.raises(PortNotFoundError) as caught:
        await SerialTransport.open(url)
    assert caught.value.port == url
    assert url in str(caught.value) and says in str(caught.value)
