"""The board's heap after importing a 5 KB module sent as source, and the same module sent as
``.mpy`` (``session.fs.sync(..., mpy=True)``: mpy-cross for the board's bytecode version).

    python benchmarks/bench_mpy_heap.py [--port unix]

Two figures per form, each a difference of ``gc.mem_alloc()`` on one fresh board (no timing):
what the import allocated with the collector off (the most the import needs at once, parsing
and compiling included), and what the module keeps after ``gc.collect()``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import anyio

from belay import DeviceSessionManager, SessionOptions

MODULE = "heapmod"
MEASURE = (
    "import gc\ngc.collect()\ngc.collect()\n_b = gc.mem_alloc()\ngc.disable()\nimport {module}\n"
    "_p = gc.mem_alloc() - _b\ngc.enable()\ngc.collect()\ngc.collect()\n_r = (_p, gc.mem_alloc() - _b)\n"
)
"""Allocated during the import (collector off), and kept once collected, in bytes."""


def module_source(size: int = 5 * 1024) -> str:
    """A module of about ``size`` bytes, as people write them: constants, functions, a class."""
    parts = ['"""A sensor driver, for measuring."""\n\nSCALE = 3\nNAMES = ("x", "y", "z")\n\n']
    index = 0
    while sum(map(len, parts)) < size - 200:
        parts.append(
            f"def reading_{index}(raw, offset=0):\n"
            f'    """Reading {index} from a raw value."""\n'
            f"    value = (raw + offset) * SCALE + {index}\n"
            f"    return [value, value * 2, NAMES[{index} % 3]]\n\n"
        )
        index += 1
    parts.append("class Sensor:\n    def __init__(self, pin):\n        self.pin = pin\n\n")
    parts.append("    def read(self):\n        return reading_0(self.pin)\n")
    return "".join(parts)


async def measure(port: str, mpy: bool) -> tuple[int, int, int]:
    """Bytes of the module's file, allocated during its import, kept after it."""
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / f"{MODULE}.py").write_text(module_source())
        async with DeviceSessionManager(SessionOptions()) as manager, manager.session(port) as session:
            report = await session.fs.sync(folder, "", mpy=mpy)
            (sent,) = report.uploaded
            size = (await session.fs.stat(sent)).size
            await session.exec(MEASURE.format(module=MODULE))
            during, kept = await session.eval("_r")
            await session.fs.rm(sent)
    return size, during, kept


async def main(port: str) -> None:
    print(f"module: {len(module_source())} bytes of source, on {port}")
    print("| sent as | file | allocated during the import | kept after it |")
    print("|---|---|---|---|")
    for mpy in (False, True):
        size, during, kept = await measure(port, mpy)
        print(f"| {'.mpy' if mpy else 'source'} | {size} B | {during} B | {kept} B |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", default="unix")
    anyio.run(main, parser.parse_args().port)
