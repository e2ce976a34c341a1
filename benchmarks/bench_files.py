"""Put and get at 115200 baud: belay's ``session.fs`` beside mpremote and the line's own limit.

    .venv/bin/python benchmarks/bench_files.py [--size 65536] [--runs 3] [--baud 115200] [--microbit]

One unix-port board served on a pty by ``belay virtual-board --kind unix --baud 115200`` (the
simulated 8N1 line, ``belay/transports/paced_line.py``: 11,520 bytes a second each way), used
by each contender in turn: belay's ``session.fs.put``/``get`` in an open session, and
mpremote's ``SerialTransport.fs_writefile``/``fs_readfile`` (what ``mpremote fs cp`` runs)
after entering the raw REPL. Two payloads: ``--size`` bytes of ``os.urandom`` (incompressible)
and of Python source (belay's own, repeated). Medians of ``--runs`` runs, as bytes a second and
as a share of the line's limit.

``--microbit`` adds belay's 8 KB put and get on the micro:bit in QEMU (its own pacing, no
simulated line) on a board that has already run three sessions.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import anyio
from bench_sync import served_board

from belay import DeviceSessionManager, SessionOptions

logger = logging.getLogger("bench_files")
SOURCE_ROOT = Path(__file__).resolve().parent.parent / "belay"


def python_source(size: int) -> bytes:
    text = b"".join(path.read_bytes() for path in sorted(SOURCE_ROOT.rglob("*.py")))
    return (text * (1 + size // len(text)))[:size]


def payloads(size: int) -> dict[str, bytes]:
    return {"incompressible": os.urandom(size), "python source": python_source(size)}


async def belay_times(port: str, data: dict[str, bytes], runs: int) -> dict[str, tuple[float, float]]:
    """Median put and get seconds of each payload through belay."""
    out = {}
    async with DeviceSessionManager() as manager, manager.session(port, on_output=None) as session:
        for name, payload in data.items():
            puts, gets = [], []
            for run in range(runs):
                start = time.perf_counter()
                await session.fs.put(payload, f"bench-{run}.bin")
                puts.append(time.perf_counter() - start)
                start = time.perf_counter()
                got = await session.fs.get(f"bench-{run}.bin")
                gets.append(time.perf_counter() - start)
                assert got == payload, f"belay {name}: got back {len(got)} bytes"
                await session.fs.rm(f"bench-{run}.bin")
            out[name] = (statistics.median(puts), statistics.median(gets))
    return out


def mpremote_times(port: str, data: dict[str, bytes], runs: int) -> dict[str, tuple[float, float]]:
    """Median put and get seconds of each payload through mpremote's transport."""
    from mpremote.transport_serial import SerialTransport

    transport = SerialTransport(port, baudrate=115200)
    out = {}
    try:
        transport.enter_raw_repl(soft_reset=False)
        for name, payload in data.items():
            puts, gets = [], []
            for run in range(runs):
                path = f"mpremote-{run}.bin"
                puts.append(_timed(lambda: transport.fs_writefile(path, payload)))  # noqa: B023
                got: list[bytes] = []
                gets.append(_timed(lambda: got.append(transport.fs_readfile(path))))  # noqa: B023
                assert got[0] == payload, f"mpremote {name}: got back {len(got[0])} bytes"
                transport.fs_rmfile(path)
            out[name] = (statistics.median(puts), statistics.median(gets))
        transport.exit_raw_repl()
    finally:
        transport.close()
    return out


def _timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


async def microbit_8kb() -> tuple[float, float]:
    """belay's 8 KB put and get on a micro:bit that has run three sessions."""
    data = os.urandom(8 * 1024)
    async with DeviceSessionManager(SessionOptions()) as manager:
        for round_ in range(3):
            async with manager.session("microbit", on_output=None) as session:
                await session.exec(f"x = [{round_}] * 20")
                await session.fs.put(b"warm" * 50, "warm.bin")
        async with manager.session("microbit", on_output=None) as session:
            start = time.perf_counter()
            await session.fs.put(data, "eight.bin")
            put = time.perf_counter() - start
            start = time.perf_counter()
            assert await session.fs.get("eight.bin") == data
            get = time.perf_counter() - start
            await session.fs.rm("eight.bin")
            await session.fs.rm("warm.bin")
    return put, get


def report(limit: float, size: int, results: dict[str, dict[str, tuple[float, float]]]) -> None:
    print(f"{size} bytes each way; the line's limit is {limit:,.0f} B/s")
    print(f"{'payload':<16} {'contender':<10} {'put B/s':>9} {'% line':>7} {'get B/s':>9} {'% line':>7}")
    for payload in next(iter(results.values())):
        for contender, by_payload in results.items():
            put, get = by_payload[payload]
            up, down = size / put, size / get
            rates = f"{up:>9,.0f} {up / limit:>7.0%} {down:>9,.0f} {down / limit:>7.0%}"
            print(f"{payload:<16} {contender:<10} {rates}")
        ours, theirs = results["belay"][payload], results.get("mpremote", {}).get(payload)
        if theirs:
            print(f"{'':<16} {'ratio':<10} {theirs[0] / ours[0]:>8.1f}x {'':>7} {theirs[1] / ours[1]:>8.1f}x")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=64 * 1024)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--baud", type=int, default=115200)
    parser.add_argument("--microbit", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    data = payloads(args.size)
    limit = args.baud / 10
    with served_board("unix", args.baud) as port:
        results = {"belay": anyio.run(belay_times, port, data, args.runs)}
        results["mpremote"] = mpremote_times(port, data, args.runs)
    report(limit, args.size, results)
    if args.microbit:
        put, get = anyio.run(microbit_8kb)
        print(f"micro:bit, 8 KB after three sessions: put {put:.2f} s, get {get:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
