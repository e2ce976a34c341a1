"""The board's heap as belay spends it: the agent's resident cost, a session's, a deployed
task's, how many sessions fit at once, and what thousands of distinct calls leave behind.

    python benchmarks/bench_heap.py --port microbit
    python benchmarks/bench_heap.py --port unix

Every figure is a difference of ``gc.mem_free()`` after ``gc.collect()`` on the same board in
the same run (no timing involved).
"""

from __future__ import annotations

import argparse
import collections

import anyio

from belay import BelayError, DeviceSessionManager, SessionLimitError, SessionOptions
from belay.agent import calls
from belay.device import Device

FREE = "import gc\ngc.collect()\ngc.collect()\nprint(gc.mem_free())\ndel gc"


async def free(device: Device) -> int:
    return int(await device.eval_code(FREE))


async def resident(manager: DeviceSessionManager, port: str) -> int:
    """Free heap after a soft reset, less free heap once the agent is imported."""
    board = manager.board(port)
    assert board is not None
    device = board.device
    await device.soft_reset()
    before = await free(device)
    await device.exec(calls.import_agent())
    if device.capabilities.threads:
        await device.exec(calls.start_threads())
    return before - await free(device)


async def per_session(manager: DeviceSessionManager, port: str, count: int) -> tuple[float, float]:
    """Mean heap of an open session, and of a small task deployed and called in it."""
    board = manager.board(port)
    assert board is not None
    start = await free(board.device)
    sessions = [await manager.create_session(port, on_output=None) for _ in range(count)]
    opened = await free(board.device)
    for session in sessions:

        @session.task
        def add(a, b):  # type: ignore[no-untyped-def]
            return a + b

        assert await add(1, 2) == 3
    deployed = await free(board.device)
    for session in sessions:
        await manager.end_session(session.session_id)
    return (start - opened) / count, (opened - deployed) / count


async def crowd(manager: DeviceSessionManager, port: str, count: int) -> collections.Counter[str]:
    """``count`` sessions at once, each deploying and calling a task: how many ran, were refused."""
    outcomes: collections.Counter[str] = collections.Counter()
    everyone = anyio.Event()
    opened = [0]

    async def worker(n: int) -> None:
        try:
            async with manager.session(port, on_output=None) as session:

                @session.task
                def scale(x, k):  # type: ignore[no-untyped-def]
                    return x * k

                assert await scale(2, n) == 2 * n
                opened[0] += 1
                if opened[0] == count:
                    everyone.set()
                with anyio.move_on_after(5):
                    await everyone.wait()
            outcomes["ran"] += 1
        except SessionLimitError:
            outcomes["refused"] += 1
        except BelayError as error:
            outcomes[type(error).__name__] += 1

    async with anyio.create_task_group() as group:
        for n in range(count):
            group.start_soon(worker, n)
    return outcomes


async def distinct_calls(manager: DeviceSessionManager, port: str, evals: int, threads: int) -> int:
    """Heap lost after one session made ``evals`` distinct short evals and ``threads`` thread starts."""
    board = manager.board(port)
    assert board is not None
    before = await free(board.device)
    async with manager.session(port, on_output=None) as session:
        for k in range(evals):
            await session.eval(f"{k} * 2")
        if threads:

            @session.thread
            def work(x):  # type: ignore[no-untyped-def]
                return x

            for i in range(threads):
                await work(i)
    return before - await free(board.device)


async def main(args: argparse.Namespace) -> None:
    port = args.port
    small = port == "microbit"
    options = SessionOptions(max_concurrent_sessions=64)
    async with DeviceSessionManager(options) as manager:
        async with manager.session(port, on_output=None):
            pass
        print(f"agent resident heap: {await resident(manager, port)} B")
        async with manager.session(port, on_output=None):
            pass
        session_cost, task_cost = await per_session(manager, port, 8 if small else 20)
        print(
            f"per open session: {session_cost:.0f} B; per small task deployed and called: {task_cost:.0f} B"
        )
        for count in (12, 20) if small else (50,):
            outcomes = dict(await crowd(manager, port, count))
            print(f"{count} sessions at once, each deploying and calling a task: {outcomes}")
        evals, threads = (300, 0) if small else (6000, 2500)
        lost = await distinct_calls(manager, port, evals, threads)
        print(f"{evals} distinct short evals, {threads} thread starts in one session: {lost} B not back")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", default="unix")
    anyio.run(main, parser.parse_args())
