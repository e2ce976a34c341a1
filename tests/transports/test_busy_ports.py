"""Ports someone else holds: a second opener in this process, another process, and a
ser2net-like server that takes one client and turns a second away. Each is a
:class:`~belay.errors.BelayError` with a one-line message saying who, where it can tell."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest

from belay.cli import main
from belay.device import Device
from belay.errors import BelayError, ConnectionLostError, PortBusyError
from belay.transports.holders import busy_message, holders
from belay.transports.serial import SerialTransport

pytestmark = pytest.mark.anyio

HOLD_PORT = """
import sys, time, serial
port = serial.Serial(sys.argv[1], exclusive=True)
print("holding", flush=True)
time.sleep(60)
"""
REFUSAL = b"Port already in use\r\n"


async def test_a_port_this_process_holds_says_this_process(pty_port: str) -> None:
    async with await SerialTransport.open(pty_port):
        with pytest.raises(PortBusyError) as caught:
            await SerialTransport.open(pty_port)
    assert "this process" in str(caught.value) and "another" not in str(caught.value)
    assert caught.value.port == pty_port


@pytest.fixture
def holder(pty_port: str) -> Iterator[int]:
    """Another process holding ``pty_port`` exclusively (as a terminal program would): its pid."""
    process = subprocess.Popen([sys.executable, "-c", HOLD_PORT, pty_port], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None and process.stdout.readline().strip() == "holding"
        yield process.pid
    finally:
        process.kill()
        process.wait(timeout=10)


async def test_a_port_another_process_holds_names_it(pty_port: str, holder: int) -> None:
    with pytest.raises(PortBusyError) as caught:
        await SerialTransport.open(pty_port)
    assert f"(pid {holder}) has it open" in str(caught.value)
    assert "this process" not in str(caught.value)


def test_holders_are_read_from_proc_and_unknown_ones_are_said_to_be_another_process(tmp_path: Path) -> None:
    port = tmp_path / "ttyUSB0"
    port.write_bytes(b"")
    proc = tmp_path / "proc"
    for pid, name, target in ((41, "picocom", port), (42, "bash", tmp_path)):
        (proc / str(pid) / "fd").mkdir(parents=True)
        (proc / str(pid) / "fd" / "3").symlink_to(target)
        (proc / str(pid) / "comm").write_text(name + "\n")
    (proc / "self").mkdir()
    assert holders(str(port), proc) == [41]
    assert busy_message(str(port), own_pid=7, proc=proc) == "picocom (pid 41) has it open"
    assert busy_message(str(port), own_pid=41, proc=proc).startswith("this process has it open")
    assert busy_message(str(port), own_pid=7, proc=tmp_path / "nothing") == "another process has it open"


@pytest.fixture
def one_client_server() -> Iterator[int]:
    """A server that keeps its first client and turns each later one away, as ser2net does."""
    server = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()
    kept: list[socket.socket] = []

    server.settimeout(0.05)  # accept() wakes to see stop (closing does not wake it)

    def serve() -> None:
        while not stop.is_set():
            try:
                client, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if kept:
                client.sendall(REFUSAL)
                client.close()
            else:
                kept.append(client)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    first = socket.create_connection(server.getsockname())
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        server.close()
        first.close()
        for client in kept:
            client.close()


@pytest.mark.parametrize(("scheme", "error"), [("rfc2217", PortBusyError), ("socket", ConnectionLostError)])
async def test_a_server_refusing_a_second_client_is_a_belay_error_quoting_it(
    one_client_server: int, scheme: str, error: type[BelayError]
) -> None:
    url = f"{scheme}://127.0.0.1:{one_client_server}"
    with anyio.fail_after(15), pytest.raises(error) as caught:
        await Device.open(url, sync_timeout=2.0)
    message = str(caught.value)
    assert url in message and "Port already in use" in message and "\n" not in message


def test_the_command_line_says_so_in_one_line(
    one_client_server: int, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["exec", "-p", f"rfc2217://127.0.0.1:{one_client_server}", "pass"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("belay: error: ") and "Port already in use" in err
