"""Open a board, run code, read a value back, survive an error and a runaway loop.

python examples/hello_device.py            # the unix virtual board
python examples/hello_device.py microbit   # the micro:bit in QEMU
"""

from __future__ import annotations

import sys

import anyio

from belay import Device, DeviceExecError, DeviceTimeoutError


async def main(port: str) -> None:
    async with await Device.open(port) as device:
        print("board:", device.info.describe())
        await device.exec("x = 21")
        print("x * 2 =", await device.eval("x * 2"))
        try:
            await device.exec("1/0")
        except DeviceExecError as error:
            print("the board raised", error.remote_type)
        try:
            await device.exec("while True: pass", timeout=0.5)
        except DeviceTimeoutError:
            print("runaway loop interrupted; board still answers:", await device.eval("1 + 1"))


if __name__ == "__main__":
    anyio.run(main, sys.argv[1] if len(sys.argv) > 1 else "unix")
