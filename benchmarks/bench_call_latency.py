"""Per-call latency of ``Device.eval("1+1")`` against a minimal raw-REPL loop and mpremote.

    python benchmarks/bench_call_latency.py [--rounds 5 --calls 200] [--no-microbit]

Three contenders run the same kind of board, interleaved round by round (their order rotating)
so machine noise hits all alike:

- ``device``:   ``belay.device.Device.open(board)`` then ``await device.eval("1+1")``.
- ``minimal``:  the floor: its own board process, ``print(1+1)\\x04`` written and the answer read
  until ``\\x04>`` with ``select``/``os.read``; nothing else.
- ``mpremote``: ``mpremote.transport_serial.SerialTransport.eval("1+1")``; on ``unix`` through
  :class:`belay.transports.pty_server.PtyServer` (served from a separate process, as a user
  would run it), on ``microbit`` straight on a QEMU pty.

Each contender has a board of its own, so no one's leftovers disturb another.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import select
import statistics
import subprocess
import sys
import time
import tty
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import anyio.to_thread

from belay.device import Device
from belay.transports.microbit_board import find_qemu_and_firmware, qemu_command
from belay.transports.process import kill_process_group, open_raw_pty, spawn_on_pty, spawn_piped
from belay.transports.unix_board import find_micropython

RAW_BANNER = b"raw REPL; CTRL-B to exit"
_PTY_LINE = re.compile(rb"char device redirected to (\S+)")


# --- the floor: a raw-REPL round trip and nothing else -------------------------------------


def read_until(fd: int, ending: bytes, timeout: float = 10.0) -> bytes:
    seen = b""
    deadline = time.monotonic() + timeout
    while not seen.endswith(ending):
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise TimeoutError(f"waited for {ending!r}, got {seen[-200:]!r}")
        seen += os.read(fd, 4096)
    return seen


def wait_friendly_prompt(fd: int, attempts: int = 40) -> None:
    """Ctrl-C until the board answers ``>>> `` (a QEMU board may still be booting)."""
    for _ in range(attempts):
        os.write(fd, b"\r\x03")
        with contextlib.suppress(TimeoutError):
            read_until(fd, b">>> ", timeout=0.5)
            return
    raise TimeoutError("the board never showed its >>> prompt")


class MinimalRawRepl:
    """A raw REPL driven with blocking ``os.write`` / ``select`` / ``os.read`` only."""

    def __init__(self, fd: int, process: subprocess.Popen[bytes] | None = None) -> None:
        self.fd = fd
        self.process = process
        wait_friendly_prompt(fd)
        os.write(fd, b"\x01")
        read_until(fd, RAW_BANNER + b"\r\n>")

    @classmethod
    def unix(cls) -> MinimalRawRepl:
        """A micropython process started as UnixBoard starts it: own session, raw pty."""
        master, slave = open_raw_pty()
        process = spawn_on_pty([find_micropython()], slave)
        os.close(slave)
        read_until(master, b">>> ")
        return cls(master, process)

    @classmethod
    def on_tty(cls, path: str) -> MinimalRawRepl:
        fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(fd)
        return cls(fd)

    def call(self) -> None:
        os.write(self.fd, b"print(1+1)\x04")
        answer = read_until(self.fd, b"\x04>")
        assert b"2" in answer, answer

    def close(self) -> None:
        os.close(self.fd)
        if self.process is not None:
            kill_process_group(self.process)


# --- mpremote -------------------------------------------------------------------------------


class Mpremote:
    def __init__(self, path: str) -> None:
        from mpremote.transport_serial import SerialTransport

        self.transport = SerialTransport(path, baudrate=115200)
        self.transport.enter_raw_repl(soft_reset=False)

    def call(self) -> None:
        assert self.transport.eval("1+1") == 2

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.transport.exit_raw_repl()
        self.transport.close()


def serve_unix_board_on_pty() -> None:
    """``--serve-unix``: a unix board served by PtyServer, its path on stdout, until stdin ends."""
    from belay.transports.pty_server import serve_on_pty
    from belay.transports.unix_board import UnixBoard

    async def main() -> None:
        board = await UnixBoard.start()
        try:
            async with serve_on_pty(board) as path:
                print(path, flush=True)
                await anyio.wait_readable(sys.stdin.fileno())  # EOF: the benchmark is done
        finally:
            await board.aclose()

    anyio.run(main)


@contextlib.contextmanager
def served_unix_board() -> Iterator[str]:
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve-unix"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert server.stdout is not None and server.stdin is not None
        yield server.stdout.readline().decode().strip()
        server.stdin.close()
        server.wait(timeout=10)
    finally:
        kill_process_group(server)


@contextlib.contextmanager
def qemu_microbit() -> Iterator[str]:
    """A QEMU micro:bit of the benchmark's own; yields the pty it serves the UART on."""
    process = spawn_piped(qemu_command(*find_qemu_and_firmware()))
    try:
        assert process.stdout is not None
        seen = b""
        while (match := _PTY_LINE.search(seen)) is None:
            line = process.stdout.readline()
            if not line:
                raise RuntimeError(f"qemu announced no pty: {seen!r}")
            seen += line
        path = match.group(1).decode()
        fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        tty.setraw(fd)
        wait_friendly_prompt(fd)
        os.close(fd)
        yield path
    finally:
        kill_process_group(process)


# --- measuring ------------------------------------------------------------------------------

Batch = Callable[[int], Awaitable[list[int]]]


def blocking_batch(call: Callable[[], None]) -> Batch:
    def run(count: int) -> list[int]:
        samples = []
        for _ in range(count):
            start = time.perf_counter_ns()
            call()
            samples.append(time.perf_counter_ns() - start)
        return samples

    async def batch(count: int) -> list[int]:
        return await anyio.to_thread.run_sync(run, count)

    return batch


def device_batch(device: Device) -> Batch:
    async def batch(count: int) -> list[int]:
        samples = []
        for _ in range(count):
            start = time.perf_counter_ns()
            value = await device.eval("1+1")
            samples.append(time.perf_counter_ns() - start)
            assert value == 2
        return samples

    return batch


@dataclass
class Contender:
    name: str
    batch: Batch
    samples: list[int] = field(default_factory=list)

    def median_us(self) -> float:
        return statistics.median(self.samples) / 1000

    def p90_us(self) -> float:
        return statistics.quantiles(self.samples, n=10)[-1] / 1000


async def measure(contenders: list[Contender], rounds: int, calls: int) -> None:
    for contender in contenders:  # warm-up: caches, first-call paths, raw-paste negotiation
        await contender.batch(max(10, calls // 10))
    for round_ in range(rounds):
        shift = round_ % len(contenders)
        for contender in contenders[shift:] + contenders[:shift]:
            contender.samples += await contender.batch(calls)


def report(board: str, contenders: list[Contender], rounds: int, calls: int) -> None:
    by_name = {contender.name: contender for contender in contenders}
    print(f"\n{board}: {rounds} rounds x {calls} calls each, interleaved")
    print(f"  {'contender':<10} {'median us':>10} {'p90 us':>10}")
    for contender in contenders:
        print(f"  {contender.name:<10} {contender.median_us():>10.0f} {contender.p90_us():>10.0f}")
    device = by_name["device"]
    for other in ("minimal", "mpremote"):
        if other in by_name:
            median = device.median_us() / by_name[other].median_us()
            p90 = device.p90_us() / by_name[other].p90_us()
            print(f"  device/{other:<9} median {median:5.2f}x   p90 {p90:5.2f}x")


# --- the two boards -------------------------------------------------------------------------


async def bench_unix(rounds: int, calls: int) -> None:
    minimal = MinimalRawRepl.unix()
    try:
        with served_unix_board() as path:
            client = Mpremote(path)
            try:
                async with await Device.open("unix") as device:
                    contenders = [
                        Contender("device", device_batch(device)),
                        Contender("minimal", blocking_batch(minimal.call)),
                        Contender("mpremote", blocking_batch(client.call)),
                    ]
                    await measure(contenders, rounds, calls)
                    report("unix", contenders, rounds, calls)
            finally:
                client.close()
    finally:
        minimal.close()


async def bench_microbit(rounds: int, calls: int) -> None:
    with qemu_microbit() as minimal_path, qemu_microbit() as mpremote_path:
        minimal = MinimalRawRepl.on_tty(minimal_path)
        client = Mpremote(mpremote_path)
        try:
            async with await Device.open("microbit") as device:
                contenders = [
                    Contender("device", device_batch(device)),
                    Contender("minimal", blocking_batch(minimal.call)),
                    Contender("mpremote", blocking_batch(client.call)),
                ]
                await measure(contenders, rounds, calls)
                report("microbit (QEMU)", contenders, rounds, calls)
        finally:
            client.close()
            minimal.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--microbit-rounds", type=int, default=3)
    parser.add_argument("--microbit-calls", type=int, default=50)
    parser.add_argument("--no-microbit", action="store_true", help="skip the QEMU micro:bit")
    parser.add_argument("--serve-unix", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_unix:
        serve_unix_board_on_pty()
        return
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, {Path(find_micropython()).name}")

    async def run() -> None:
        await bench_unix(args.rounds, args.calls)
        if not args.no_microbit:
            await bench_microbit(args.microbit_rounds, args.microbit_calls)

    anyio.run(run)


if __name__ == "__main__":
    main()
