"""A 100 KB answer and a cancelled flood of output over the pty, ``socket://`` and ``rfc2217://``.

    python benchmarks/bench_network.py [--calls 7 --floods 5 --pyserial-calls 2]

Each port is a unix board served by ``belay virtual-board`` in a process of its own, reached:

- ``pty``:            on the pty it serves, as a local serial port;
- ``socket://``:      through ``socat TCP-LISTEN FILE:<pty>,raw,echo=0`` (raw TCP, as ser2net's
  raw mode), Nagle on as socat leaves it; ``socket:// nodelay`` with socat's ``nodelay``;
- ``rfc2217://``:     through ``tests/transports/rfc2217_bridge.py`` (pyserial's ``PortManager``,
  as its ``rfc2217_server.py`` example).

Two contenders on each:

- ``belay``:    ``Device.open(port)``, then ``await device.exec("print('x' * 100000)")``;
  and a flood (``while True: print('y' * 100)``) cancelled by ``anyio.move_on_after(0.5)``:
  the time from the cancel until the call has returned, the board recovered and in step.
- ``pyserial``: ``serial.serial_for_url(port, timeout=0.05)`` read as most tools read it,
  ``read(max(1, in_waiting))`` until the raw REPL's ``\\x04>``: the same answer, as fast as
  pyserial's own URL clients deliver it (``in_waiting`` is 0 or 1 on ``socket://``;
  ``rfc2217://`` queues each byte).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import anyio.to_thread
import serial

from belay.device import Device

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "transports"))
from network_ports import end_process, rfc2217_port, socat_socket_port

ANSWER = "print('x' * 100000)"
ANSWER_BYTES = 100_001
FLOOD = "while True:\n    print('y' * 100)"
MIB = 1024 * 1024


@contextlib.contextmanager
def served_board() -> Iterator[str]:
    """``belay virtual-board --kind unix`` of this benchmark's own: the pty it serves."""
    command = [sys.executable, "-m", "belay", "virtual-board", "--kind", "unix"]
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    try:
        assert process.stdout is not None
        yield process.stdout.readline().decode().strip()
    finally:
        end_process(process)


@contextlib.contextmanager
def port_of(kind: str, pty_path: str) -> Iterator[str]:
    if kind == "pty":
        yield pty_path
    elif kind.startswith("socket"):
        with socat_socket_port(pty_path, nodelay=kind.endswith("nodelay")) as url:
            yield url
    else:
        with rfc2217_port(pty_path) as url:
            yield url


# --- pyserial as its own clients read -------------------------------------------------------


def read_until(port: serial.SerialBase, ending: bytes, timeout: float = 120.0) -> bytes:
    seen = bytearray()
    deadline = time.monotonic() + timeout
    while not seen.endswith(ending):
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited for {ending!r}, got {bytes(seen[-200:])!r}")
        seen += port.read(max(1, port.in_waiting))
    return bytes(seen)


def pyserial_answers(url: str, calls: int) -> list[float]:
    """Seconds per 100 KB answer with pyserial's client of ``url``, raw REPL by hand."""
    port = serial.serial_for_url(url, baudrate=115200, timeout=0.05)
    try:
        port.write(b"\r\x03\x03\x01")
        read_until(port, b"raw REPL; CTRL-B to exit\r\n>")
        samples = []
        for _ in range(calls):
            started = time.perf_counter()
            port.write(ANSWER.encode() + b"\x04")
            answer = read_until(port, b"\x04>")
            samples.append(time.perf_counter() - started)
            assert answer.count(b"x") == 100_000, len(answer)
        port.write(b"\x02")
        return samples
    finally:
        port.close()


# --- belay ----------------------------------------------------------------------------------


async def belay_answers(device: Device, calls: int) -> list[float]:
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        output = await device.exec(ANSWER)
        samples.append(time.perf_counter() - started)
        assert len(output) == ANSWER_BYTES, len(output)
    return samples


async def belay_recoveries(device: Device, floods: int) -> list[float]:
    """Seconds from each flood's cancel until the call returned, the board back and in step."""
    samples = []
    for _ in range(floods):
        with anyio.move_on_after(0.5) as scope:
            await device.exec(FLOOD)
        samples.append(anyio.current_time() - scope.deadline)
        assert await device.eval("1 + 1", timeout=5) == 2
    return samples


@dataclass
class Row:
    port: str
    belay: list[float] = field(default_factory=list)
    recovery: list[float] = field(default_factory=list)
    pyserial: list[float] = field(default_factory=list)


async def bench_port(kind: str, calls: int, floods: int, pyserial_calls: int) -> Row:
    row = Row(kind)
    with served_board() as pty_path:
        if pyserial_calls:
            with port_of(kind, pty_path) as url:
                row.pyserial = await anyio.to_thread.run_sync(pyserial_answers, url, pyserial_calls)
        with port_of(kind, pty_path) as url:
            async with await Device.open(url) as device:
                await device.exec(ANSWER)  # warm-up: first-call paths
                row.belay = await belay_answers(device, calls)
                row.recovery = await belay_recoveries(device, floods)
    return row


def rate(samples: list[float]) -> str:
    return f"{ANSWER_BYTES / statistics.median(samples) / MIB:8.2f}" if samples else f"{'-':>8}"


def report(rows: list[Row], calls: int, floods: int) -> None:
    print(f"\n100 KB answer, median of {calls} (MiB/s); cancelled flood, median of {floods} (s)")
    print(f"  {'port':<18} {'belay':>8} {'pyserial':>9} {'recovery s':>11} {'worst s':>8}")
    for row in rows:
        print(f"  {row.port:<18} {rate(row.belay)} {rate(row.pyserial):>9} "
              f"{statistics.median(row.recovery):>11.3f} {max(row.recovery):>8.3f}")  # fmt: skip
    pty = statistics.median(rows[0].belay)
    for row in rows[1:]:
        print(f"  {row.port} / pty: belay takes {statistics.median(row.belay) / pty:.1f}x as long")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=7)
    parser.add_argument("--floods", type=int, default=5)
    parser.add_argument("--pyserial-calls", type=int, default=2, help="0 skips pyserial (slow on socket://)")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, pyserial {serial.__version__}, {os.cpu_count()} cpus")
    kinds = ["pty", "socket://", "socket:// nodelay", "rfc2217://"]

    async def run() -> None:
        rows = [await bench_port(kind, args.calls, args.floods, args.pyserial_calls) for kind in kinds]
        report(rows, args.calls, args.floods)

    anyio.run(run)


if __name__ == "__main__":
    main()
