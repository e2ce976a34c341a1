"""Picking a board by name: ``id:SERIAL``, ``VID:PID``, prefixes, aliases, and suggestions."""

from __future__ import annotations

import pytest

from belay.errors import PortNotFoundError
from belay.transports.discovery import PortInfo
from belay.transports.port_names import resolve_port_name

PICO = PortInfo("/dev/ttyACM0", "Board in FS mode", 0x2E8A, 0x0005, True, "E6614C311B4B5F28")
ESP = PortInfo("/dev/ttyUSB0", "CP2102 USB to UART", 0x10C4, 0xEA60, True, "0001")
ESP2 = PortInfo("/dev/ttyUSB1", "CP2102 USB to UART", 0x10C4, 0xEA60, True, "0002")
PORTS = [PICO, ESP, ESP2]


def resolve(name: str, aliases: dict[str, str] | None = None) -> str:
    return resolve_port_name(name, aliases or {}, ports=PORTS)


@pytest.mark.parametrize(
    ("name", "port"),
    [
        ("unix", "unix"),
        ("microbit?baud=9600", "microbit?baud=9600"),
        ("rfc2217://lab:4000", "rfc2217://lab:4000"),
        ("id:E6614C311B4B5F28", "/dev/ttyACM0"),
        ("2e8a:0005", "/dev/ttyACM0"),
        ("2E8A:5", "/dev/ttyACM0"),
        ("/dev/ttyACM", "/dev/ttyACM0"),  # a unique prefix
        ("ttyACM", "/dev/ttyACM0"),  # of the path's last part too
        ("mic", "microbit"),
        ("a0", "/dev/ttyACM0"),  # mpremote's shortcuts
        ("u1", "/dev/ttyUSB1"),
        ("/tmp", "/tmp"),  # a path that is there is used as it is
    ],
)
def test_names_resolve_to_ports(name: str, port: str) -> None:
    assert resolve(name) == port


def test_aliases_come_first_and_may_name_any_form() -> None:
    assert resolve("pico", {"pico": "id:E6614C311B4B5F28"}) == "/dev/ttyACM0"
    assert resolve("lab", {"lab": "rfc2217://lab:4000"}) == "rfc2217://lab:4000"
    assert resolve("la", {"lab": "rfc2217://lab:4000"}) == "rfc2217://lab:4000"  # an alias's prefix


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("unx", "no such port: unx (did you mean unix?)"),
        ("microbt", "no such port: microbt (did you mean microbit?)"),
        ("/dev/ttyACM1", "no such port: /dev/ttyACM1 (did you mean /dev/ttyACM0?)"),
        ("id:E6614C311B4B5F29", "(did you mean id:E6614C311B4B5F28?)"),
        ("zzz", "no such port: zzz"),
        ("ttyUSB", "ttyUSB matches several ports: /dev/ttyUSB0, /dev/ttyUSB1"),
        ("10c4:ea60", "10c4:ea60 matches several ports: /dev/ttyUSB0, /dev/ttyUSB1"),
    ],
)
def test_a_name_that_matches_no_port_or_several_says_so(name: str, message: str) -> None:
    with pytest.raises(PortNotFoundError) as raised:
        resolve(name)
    assert message in str(raised.value)
    assert raised.value.port == name
    assert "\n" not in str(raised.value)


def test_no_suggestion_when_nothing_is_close() -> None:
    with pytest.raises(PortNotFoundError, match=r"^no such port: qqqq$"):
        resolve("qqqq")


def test_ports_table_shows_ids_serial_numbers_and_the_legend() -> None:
    import io

    from belay.cli.board import render_ports

    out = io.StringIO()
    render_ports([PICO, ESP, PortInfo("/dev/ttyS0", "n/a", None, None, False)], out)
    lines = out.getvalue().splitlines()
    assert lines[0] == "virtual boards:\tunix, microbit"
    assert lines[1].split() == ["port", "VID:PID", "serial", "description"]
    assert lines[2].split()[:4] == ["*", "/dev/ttyACM0", "2e8a:0005", "E6614C311B4B5F28"]
    assert lines[2].endswith("Board in FS mode (Raspberry Pi)")
    assert lines[3].endswith("CP2102 USB to UART (Silicon Labs CP210x)")
    assert lines[4].split() == ["/dev/ttyS0", "-", "-", "n/a"]  # no mark: not a MicroPython-like port
    assert lines[5].startswith("* looks like a MicroPython board")
    assert "id:SERIAL, VID:PID" in lines[6]
