"""Where a cached task call's time goes, layer by layer, on the unix board (issue 29, item 2).

    python benchmarks/bench_hot_path.py [--rounds 6 --calls 1500]

Interleaved round by round (so machine noise hits all alike), each on a unix board of its own:

- ``blocking minimal``: ``print(1+1)`` written, the answer read with ``select``/``os.read``;
- ``async minimal``: the same with ``anyio.wait_readable`` (what any asyncio client pays);
- ``Device.call(print)``: belay's device layer with the minimal's exact payload;
- ``Device.call(task)``: the device layer with a task call's exact payload (``_ba.c(h,'add',1,2)``);
- ``task call``: ``await add(1, 2)`` through a session (what users call).

Then the agent's own share, timed inside the unix port: a task call's statement against an
empty one, each compiled and run 5,000 times with the agent imported from ``device/``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
from bench_call_latency import MinimalRawRepl

from belay import DeviceSessionManager
from belay.agent import calls
from belay.device import Device
from belay.transports.unix_board import find_micropython

DEVICE = Path(__file__).resolve().parents[1] / "device"
Batch = Callable[[int], Awaitable[float]]


def blocking(minimal: MinimalRawRepl) -> Batch:
    async def batch(count: int) -> float:
        started = time.perf_counter()
        for _ in range(count):
            minimal.call()
        return (time.perf_counter() - started) / count

    return batch


def async_minimal(fd: int) -> Batch:
    async def batch(count: int) -> float:
        started = time.perf_counter()
        for _ in range(count):
            os.write(fd, b"print(1+1)\x04")
            answer = b""
            while not answer.endswith(b"\x04>"):
                await anyio.wait_readable(fd)
                answer += os.read(fd, 4096)
        return (time.perf_counter() - started) / count

    return batch


def device_calls(device: Device, payload: bytes) -> Batch:
    async def batch(count: int) -> float:
        started = time.perf_counter()
        for _ in range(count):
            await device.call(payload)
        return (time.perf_counter() - started) / count

    return batch


def task_calls(add: Callable[[int, int], Awaitable[int]]) -> Batch:
    async def batch(count: int) -> float:
        started = time.perf_counter()
        for _ in range(count):
            await add(1, 2)
        return (time.perf_counter() - started) / count

    return batch


AGENT_SHARE = """
import sys, time
sys.path.insert(0, {folder!r})
import belay_agent as _ba
import belay_agent_threads
_ba.begin("t", 123456, "s", 30000, 0, 0)
exec("def add(a, b):\\n return a + b", _ba.S["t"][4])
_ba._p = lambda *a, **k: None  # answers not printed: the line is not what is timed
def per_call(source):
    started = time.ticks_us()
    for _ in range(5000):
        exec(compile(source, "<stdin>", "exec"))
    return time.ticks_diff(time.ticks_us(), started) / 5000
sys.stdout.write("%.1f %.1f\\n" % (per_call("0"), per_call("_ba.c(123456,'add',1,2)")))
"""


def agent_share() -> tuple[float, float]:
    """Microseconds per empty statement and per task call, inside the unix port."""
    with tempfile.TemporaryDirectory() as folder:
        for name in ("belay_agent.py", "belay_agent_threads.py"):
            (Path(folder) / name).write_bytes((DEVICE / name).read_bytes())
        script = Path(folder) / "share.py"
        script.write_text(AGENT_SHARE.format(folder=folder))
        done = subprocess.run([find_micropython(), str(script)], capture_output=True, text=True, timeout=120)
    empty, task = done.stdout.split()[-2:]
    return float(empty), float(task)


async def main(rounds: int, calls_per_round: int) -> None:
    minimal, quick = MinimalRawRepl.unix(), MinimalRawRepl.unix()
    os.set_blocking(quick.fd, False)
    try:
        async with (
            await Device.open("unix") as device,
            DeviceSessionManager() as manager,
            manager.session("unix", on_output=None) as session,
        ):

            @session.task
            def add(a, b):  # type: ignore[no-untyped-def]
                return a + b

            await add(1, 2)  # deployed: the calls below are cached ones
            board = manager.board("unix")
            assert board is not None
            payload = calls.call_task(session.ref, "add", ",1,2", session.capabilities.threads)
            contenders: dict[str, Batch] = {
                "blocking minimal": blocking(minimal),
                "async minimal": async_minimal(quick.fd),
                "Device.call(print)": device_calls(device, b"print(1+1)"),
                "Device.call(task)": device_calls(board.device, payload.encode()),
                "task call": task_calls(add),
            }
            samples: dict[str, list[float]] = {name: [] for name in contenders}
            names = list(contenders)
            for round_ in range(rounds):
                shift = round_ % len(names)
                for name in names[shift:] + names[:shift]:
                    samples[name].append(await contenders[name](calls_per_round))
    finally:
        minimal.close()
        quick.close()
    floor = statistics.median(samples["blocking minimal"])
    print(f"\nunix board: {rounds} rounds x {calls_per_round} calls, interleaved; medians of the rounds")
    for name, values in samples.items():
        median = statistics.median(values)
        print(f"  {name:<20} {median * 1e6:7.1f} us   x blocking minimal {median / floor:5.2f}")
    empty, task = agent_share()
    share = f"{task - empty:.1f} us ({task:.1f} a task call, {empty:.1f} an empty statement)"
    print(f"  the agent's share, inside the board: {share}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--calls", type=int, default=1500)
    options = parser.parse_args()
    anyio.run(main, options.rounds, options.calls)
