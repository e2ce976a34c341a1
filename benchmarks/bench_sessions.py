"""Session costs on both virtual boards, as ratios measured in one run.

    python benchmarks/bench_sessions.py [--calls 200 --rounds 5] [--no-microbit] [--no-belay030]

- cold session: a new manager opens the board, sends the agent, opens and closes a session;
- warm session: a session opened and closed on a board that has the agent (its reuse cost);
- cached task call: ``await add(1, 2)`` after the first call, interleaved with the minimal
  raw-REPL round trip of ``bench_call_latency`` (the floor) and, on ``unix``, Belay 0.30's
  task call in its own virtual environment (``bench_belay030``);
- bytes on the wire per cached call; board heap per session and per deployed method;
- on ``unix?baud=115200`` (the simulated 8N1 line): the cached task call against a minimal
  async raw-REPL client on a line of its own calling the same ``add(1, 2)`` defined at its
  REPL (``print(add(1,2))\\x04``, read until ``\\x04>``), interleaved round by round.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Awaitable, Callable

import anyio
from bench_call_latency import Contender, MinimalRawRepl, blocking_batch, measure, qemu_microbit

from belay import DeviceSession, DeviceSessionManager
from belay.device import Device
from belay.transports import open_transport
from belay.transports.base import Transport

LINE_PORT = "unix?baud=115200"


async def timed(action: Callable[[], Awaitable[object]], repeat: int) -> list[float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        await action()
        samples.append(time.perf_counter() - start)
    return samples


def ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:8.2f} ms"


async def cold_session(port: str) -> None:
    async with DeviceSessionManager() as manager, manager.session(port):
        pass


def task_batch(session: DeviceSession) -> Callable[[int], Awaitable[list[int]]]:
    @session.task
    def add(a, b):  # type: ignore[no-untyped-def]
        return a + b

    async def batch(count: int) -> list[int]:
        samples = []
        for _ in range(count):
            start = time.perf_counter_ns()
            assert await add(1, 2) == 3
            samples.append(time.perf_counter_ns() - start)
        return samples

    return batch


async def wire_bytes(device: Device, action: Callable[[], Awaitable[object]]) -> int:
    transport = device.transport
    sent: list[int] = []
    original = transport.send

    async def counting(data: bytes) -> None:
        sent.append(len(data))
        await original(data)

    transport.send = counting  # type: ignore[method-assign]
    try:
        await action()
    finally:
        transport.send = original  # type: ignore[method-assign]
    return sum(sent)


async def free_heap(device: Device) -> int:
    return int(await device.eval_code("import gc\ngc.collect()\nprint(gc.mem_free())"))


async def heap_costs(manager: DeviceSessionManager, port: str) -> tuple[int, int]:
    board = manager.board(port)
    assert board is not None
    before = await free_heap(board.device)
    async with manager.session(port) as session:
        opened = await free_heap(board.device)

        @session.task
        def double(x):  # type: ignore[no-untyped-def]
            return 2 * x

        await double(1)
        deployed = await free_heap(board.device)
    return before - opened, opened - deployed


async def bench(port: str, cold_repeat: int, rounds: int, calls: int, minimal: MinimalRawRepl,
                belay030: bool) -> None:  # fmt: skip
    cold = await timed(lambda: cold_session(port), cold_repeat)
    async with DeviceSessionManager() as manager:
        async with manager.session(port) as session:
            board = manager.board(port)
            assert board is not None
            warm = await timed(lambda: _open_close(manager, port), calls)
            contenders = [
                Contender("task", task_batch(session)),
                Contender("minimal", blocking_batch(minimal.call)),
            ]
            await measure(contenders, rounds, calls)
            add = session.task(_add)
            first = await wire_bytes(board.device, lambda: add(1, 2))
            cached = await wire_bytes(board.device, lambda: add(1, 2))
        per_session, per_method = await heap_costs(manager, port)
    task, floor = contenders
    print(f"\n{port}:")
    print(f"  cold session (port opened, agent sent) {ms(cold)}")
    print(f"  warm session open+close               {ms(warm)}")
    print(f"  cached task call   median {task.median_us():7.0f} us  p90 {task.p90_us():7.0f} us")
    print(f"  minimal round trip median {floor.median_us():7.0f} us  p90 {floor.p90_us():7.0f} us")
    print(f"  task / minimal     median {task.median_us() / floor.median_us():5.2f}x")
    print(f"  bytes on the wire: first call {first}, cached call {cached}")
    print(f"  board heap: {per_session} B per session, {per_method} B per deployed method")
    if belay030:
        await compare_belay030(task.median_us(), calls)


async def _open_close(manager: DeviceSessionManager, port: str) -> None:
    async with manager.session(port):
        pass


def _add(a, b):  # type: ignore[no-untyped-def]
    return a + b


async def compare_belay030(task_median_us: float, calls: int) -> None:
    try:
        from bench_belay030 import measure_belay030
    except ImportError:
        print("  Belay 0.30: benchmarks/bench_belay030.py missing")
        return
    samples = await anyio.to_thread.run_sync(measure_belay030, calls)
    if not samples:
        print("  Belay 0.30: could not be measured (see its log)")
        return
    median = statistics.median(samples) * 1e6
    print(f"  Belay 0.30 task call median {median:7.0f} us: belay is {median / task_median_us:5.1f}x faster")


async def _receive_until(transport: Transport, ending: bytes) -> bytes:
    seen = b""
    with anyio.fail_after(10):
        while not seen.endswith(ending):
            seen += await transport.receive()
    return seen


def line_minimal_batch(transport: Transport) -> Callable[[int], Awaitable[list[int]]]:
    """The floor on a line: ``print(add(1,2))`` and its answer, nothing else."""

    async def batch(count: int) -> list[int]:
        samples = []
        for _ in range(count):
            start = time.perf_counter_ns()
            await transport.send(b"print(add(1,2))\x04")
            answer = await _receive_until(transport, b"\x04>")
            samples.append(time.perf_counter_ns() - start)
            assert b"3" in answer, answer
        return samples

    return batch


async def bench_line(rounds: int, calls: int) -> None:
    """The cached task call against the minimal client, each on its own simulated line."""
    transport = await open_transport(LINE_PORT)
    try:
        await transport.send(b"\r\x03\x03\x01")
        banner = await _receive_until(transport, b">")
        while b"raw REPL; CTRL-B to exit" not in banner:
            banner += await _receive_until(transport, b">")
        await transport.send(b"def add(a,b):\n return a+b\n\x04")
        await _receive_until(transport, b"\x04>")
        async with DeviceSessionManager() as manager, manager.session(LINE_PORT) as session:
            contenders = [
                Contender("task", task_batch(session)),
                Contender("minimal", line_minimal_batch(transport)),
            ]
            await measure(contenders, rounds, calls)
    finally:
        await transport.aclose()
    task, floor = contenders
    print(f"\n{LINE_PORT}:")
    print(f"  cached task call   median {task.median_us():7.0f} us  p90 {task.p90_us():7.0f} us")
    print(f"  minimal add(1,2)   median {floor.median_us():7.0f} us  p90 {floor.p90_us():7.0f} us")
    print(f"  task / minimal     median {task.median_us() / floor.median_us():5.2f}x")


async def main(args: argparse.Namespace) -> None:
    if not args.no_line:
        await bench_line(max(1, args.rounds // 2), max(20, args.calls // 4))
    if args.line_only:
        return
    minimal = MinimalRawRepl.unix()
    try:
        await bench("unix", 5, args.rounds, args.calls, minimal, not args.no_belay030)
    finally:
        minimal.close()
    if not args.no_microbit:
        with qemu_microbit() as path:
            minimal = MinimalRawRepl.on_tty(path)
            try:
                await bench("microbit", 2, 2, 50, minimal, False)
            finally:
                minimal.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--no-microbit", action="store_true")
    parser.add_argument("--no-belay030", action="store_true")
    parser.add_argument("--no-line", action="store_true", help="skip the simulated 115200 line")
    parser.add_argument("--line-only", action="store_true", help="only the simulated 115200 line")
    anyio.run(main, parser.parse_args())
