"""DTR and RTS as a port opens and closes: the calls made on a pyserial test double.

An ESP8266/ESP32 board's auto-reset circuit resets the chip when DTR is low and RTS high
(and selects its bootloader when DTR is high and RTS low); USB CDC boards send nothing while
DTR is low. Opening a port must reset nothing by default, and no change of lines may pass
through the reset state on its way anywhere else.
"""

from __future__ import annotations

import socket
import threading

import anyio
import anyio.to_thread
import pytest
import serial

from belay.cli import build_parser
from belay.cli.common import with_port_options
from belay.container import Container
from belay.options import SessionOptions
from belay.transports import ModemLines, modem_lines, open_transport, telnet, with_lines
from belay.transports.serial import SerialTransport

pytestmark = pytest.mark.anyio
RESET = (False, True)
"""(DTR, RTS) that holds an ESP board in reset."""


def recording_serial(calls: list[tuple[str, bool]]) -> type[serial.Serial]:
    """A ``serial.Serial`` that records each modem-line change instead of making it (a pty
    has no modem lines); everything else is pyserial's, on a real pty."""

    class RecordingSerial(serial.Serial):
        def _update_dtr_state(self) -> None:
            calls.append(("dtr", self._dtr_state))

        def _update_rts_state(self) -> None:
            calls.append(("rts", self._rts_state))

    return RecordingSerial


def states(calls: list[tuple[str, bool]], start: tuple[bool, bool] = (True, True)) -> list[tuple[bool, bool]]:
    """(DTR, RTS) after each call, from ``start`` (POSIX's driver raises both as a port opens)."""
    dtr, rts = start
    seen = []
    for line, level in calls:
        dtr, rts = (level, rts) if line == "dtr" else (dtr, level)
        seen.append((dtr, rts))
    return seen


async def _open_and_close(
    port: str, lines: ModemLines
) -> tuple[list[tuple[str, bool]], list[tuple[str, bool]]]:
    calls: list[tuple[str, bool]] = []
    transport = await SerialTransport.open(port, lines=lines, serial_class=recording_serial(calls))
    on_open = list(calls)
    await transport.aclose()
    return on_open, calls[len(on_open) :]


async def test_opening_with_the_defaults_asserts_both_lines_dtr_first_and_closing_releases_rts_first(
    pty_port: str,
) -> None:
    on_open, on_close = await _open_and_close(pty_port, ModemLines())
    assert on_open == [("dtr", True), ("rts", True)]  # pyserial's own, and nothing more
    assert on_close == [("rts", False), ("dtr", False)]  # mpremote's order (micropython#9659)
    assert RESET not in states(on_open + on_close)


async def test_lowering_both_lines_never_passes_through_the_reset_state(pty_port: str) -> None:
    on_open, on_close = await _open_and_close(pty_port, ModemLines(dtr=False, rts=False))
    assert on_open == [("dtr", True), ("rts", True), ("rts", False), ("dtr", False)]
    assert RESET not in states(on_open + on_close)
    assert states(on_open)[-1] == (False, False)


async def test_a_chosen_reset_state_is_reached_only_at_the_end(pty_port: str) -> None:
    on_open, _ = await _open_and_close(pty_port, ModemLines(dtr=False, rts=True))
    seen = states(on_open)
    assert seen[-1] == RESET and RESET not in seen[:-1]


async def test_windows_opens_with_both_lines_low_then_raises_dtr_before_rts(
    pty_port: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(modem_lines, "CLEAR_LINES_BEFORE_OPEN", True)
    on_open, _ = await _open_and_close(pty_port, ModemLines())
    assert on_open == [("dtr", False), ("rts", False), ("dtr", True), ("rts", True)]
    assert RESET not in states(on_open, start=(False, False))


async def test_a_port_without_modem_lines_opens_all_the_same(pty_port: str) -> None:
    transport = await SerialTransport.open(pty_port, lines=ModemLines(dtr=False, rts=False))
    await transport.send(b"x")
    await transport.aclose()


def _controls(settings: bytes) -> list[int]:
    marker = bytes((telnet.IAC, telnet.SB, telnet.COM_PORT_OPTION, telnet.SET_CONTROL))
    return [
        settings[index + len(marker)] for index in range(len(settings)) if settings.startswith(marker, index)
    ]


@pytest.mark.parametrize(
    ("dtr", "rts", "expected"),
    [
        (True, True, [telnet.CONTROL_DTR_ON, telnet.CONTROL_RTS_ON]),
        (False, False, [telnet.CONTROL_RTS_OFF, telnet.CONTROL_DTR_OFF]),
        (True, False, [telnet.CONTROL_RTS_OFF, telnet.CONTROL_DTR_ON]),
        (False, True, [telnet.CONTROL_DTR_OFF, telnet.CONTROL_RTS_ON]),
    ],
)
def test_an_rfc2217_server_is_asked_for_the_lines_in_the_same_safe_order(
    dtr: bool, rts: bool, expected: list[int]
) -> None:
    assert _controls(telnet.rfc2217_settings(115200, dtr=dtr, rts=rts)) == [telnet.CONTROL_NO_FLOW, *expected]


def test_options_and_the_command_line_choose_the_lines() -> None:
    assert SessionOptions.from_env({"BELAY_DTR": "0", "BELAY_RTS": "on"}) == SessionOptions(
        dtr=False, rts=True
    )
    args = build_parser().parse_args(["exec", "--dtr", "0", "--rts", "off", "pass"])
    assert with_port_options(Container(), args).options().replace(
        journal_path=None
    ) == SessionOptions.from_env({"BELAY_DTR": "0", "BELAY_RTS": "0"}).replace(journal_path=None)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["exec", "--dtr", "maybe", "pass"])


def test_the_default_transport_factory_is_given_the_lines_and_a_factory_of_ones_own_is_left_alone() -> None:
    assert with_lines(open_transport, ModemLines()) is open_transport
    chosen = with_lines(open_transport, ModemLines(dtr=False))
    assert getattr(chosen, "keywords", None) == {"lines": ModemLines(dtr=False)}

    async def mine(port: str) -> SerialTransport:
        raise AssertionError(port)

    assert with_lines(mine, ModemLines(dtr=False)) is mine


async def test_an_rfc2217_port_asks_for_rts_then_dtr_to_be_released_as_it_closes() -> None:
    """A server that accepts the COM port option and records what the client asks for."""
    server = socket.create_server(("127.0.0.1", 0))
    heard = bytearray()

    def serve() -> None:
        client, _ = server.accept()
        with client:
            client.sendall(bytes((telnet.IAC, telnet.DO, telnet.COM_PORT_OPTION)))
            client.settimeout(5)
            while chunk := client.recv(4096):
                heard.extend(chunk)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        with anyio.fail_after(10):
            transport = await SerialTransport.open(f"rfc2217://127.0.0.1:{server.getsockname()[1]}")
            await transport.aclose()
        await anyio.to_thread.run_sync(thread.join, 5)
    finally:
        server.close()
    assert _controls(bytes(heard)) == [
        telnet.CONTROL_NO_FLOW, telnet.CONTROL_DTR_ON, telnet.CONTROL_RTS_ON,  # opening
        telnet.CONTROL_RTS_OFF, telnet.CONTROL_DTR_OFF,  # closing
    ]  # fmt: skip
