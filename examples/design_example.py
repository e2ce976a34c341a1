"""The example from DESIGN.md, unchanged but for the port, which comes from the command line.

python examples/design_example.py            # the unix virtual board
python examples/design_example.py microbit   # threads and timers refused: no _thread there
"""

from __future__ import annotations

import sys

import anyio

from belay import DeviceCapabilityError, DeviceSessionManager, SessionOptions

PORT = sys.argv[1] if len(sys.argv) > 1 else "unix"


async def main() -> None:
    async with DeviceSessionManager(SessionOptions()) as manager:
        async with manager.session(PORT) as session:

            @session.task
            def add(a, b):
                return a + b

            assert await add(1, 2) == 3  # code sent once, cached by its hash

            @session.thread
            def blink(period_ms):
                import time

                import belay_agent

                while belay_agent.running():  # cooperative stop
                    time.sleep_ms(period_ms)

            try:
                await blink(100)  # tracked background thread
            except DeviceCapabilityError as error:
                print("skipped:", error)

            await session.exec("x = 1")  # statements, in the session's namespace
            assert await session.eval("x + 1") == 2  # expression -> Python value
            try:
                await session.timer(add, period_ms=50, args=(1, 2))  # tracked timer
            except DeviceCapabilityError as error:
                print("skipped:", error)
            print(session.resources.stats())
        # leaving the block: threads stopped, timers deinit, deployed functions and files removed
        print(await manager.stats())


anyio.run(main)
