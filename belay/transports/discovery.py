"""Which boards are connected: USB serial ports that look like MicroPython boards."""

from __future__ import annotations

from dataclasses import dataclass

# USB vendor ids of boards that ship MicroPython, and of the USB-UART bridges most
# MicroPython boards (ESP8266/ESP32) sit behind.
MICROPYTHON_VIDS = {
    0xF055: "MicroPython",
    0x2E8A: "Raspberry Pi",
    0x303A: "Espressif",
    0x0D28: "Arm DAPLink (micro:bit)",
    0x239A: "Adafruit",
    0x1209: "pid.codes",
}
BRIDGE_VIDS = {0x10C4: "Silicon Labs CP210x", 0x1A86: "WCH CH34x", 0x0403: "FTDI"}


@dataclass(frozen=True, slots=True)
class PortInfo:
    device: str
    description: str
    vid: int | None
    pid: int | None
    likely_micropython: bool
    serial_number: str | None = None
    manufacturer: str | None = None

    @property
    def ids(self) -> str:
        """``VID:PID`` in hex, or ``-`` for a port that is not USB."""
        return f"{self.vid:04x}:{self.pid:04x}" if self.vid is not None and self.pid is not None else "-"

    @property
    def maker(self) -> str | None:
        """Who made the board or its USB bridge, from its vendor id (or what the port says)."""
        if self.vid is not None and self.vid in MICROPYTHON_VIDS:
            return MICROPYTHON_VIDS[self.vid]
        if self.vid is not None and self.vid in BRIDGE_VIDS:
            return BRIDGE_VIDS[self.vid]
        return self.manufacturer

    def describe(self) -> str:
        return f"{self.device}\t{self.ids}\t{self.serial_number or '-'}\t{self.description}"


def list_serial_ports() -> list[PortInfo]:
    """Every serial port the OS reports, USB MicroPython-like ones marked."""
    from serial.tools import list_ports

    found = []
    for port in sorted(list_ports.comports(), key=lambda p: p.device):
        vid = port.vid
        likely = vid is not None and (vid in MICROPYTHON_VIDS or vid in BRIDGE_VIDS)
        info = PortInfo(port.device, port.description or "", vid, port.pid, likely,
                        port.serial_number or None, port.manufacturer or None)  # fmt: skip
        found.append(info)
    return found


def micropython_ports() -> list[str]:
    """Device paths of the connected USB ports that look like MicroPython boards."""
    return [port.device for port in list_serial_ports() if port.likely_micropython]
