"""Generator stream rate: values per second from a tight board loop, ours beside Belay 0.30's.

    .venv/bin/python benchmarks/bench_generators.py [--values 2000]

Both iterate ``def count(n): for k in range(n): yield k`` on a unix-port board served on a pty
by ``belay virtual-board --kind unix`` (one board each, in the same run), and report values
per second and the time to the first value. Ours steps the generator one value per call (lazy,
as Python runs a generator: the board never runs ahead of the host); Belay 0.30 runs the
generator to completion on the board and streams each value as it is printed.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import time

import anyio
from bench_belay030 import HERE, _clean_env, ensure_belay030_venv, served_unix_board

from belay import DeviceSessionManager

logger = logging.getLogger("bench_generators")
WORKER = HERE / "generator_worker.py"


async def measure_ours(values: int) -> dict[str, float]:
    with served_unix_board() as path:
        async with DeviceSessionManager() as manager, manager.session(path, on_output=None) as session:

            @session.task
            def count(n):  # type: ignore[no-untyped-def]
                for k in range(n):  # noqa: UP028 - the same tight loop for both
                    yield k

            assert [v async for v in count(10)] == list(range(10))  # warm-up: deployed once
            start = time.perf_counter()
            first = None
            seen = 0
            async for value in count(values):
                if first is None:
                    first = time.perf_counter() - start
                assert value == seen
                seen += 1
            seconds = time.perf_counter() - start
    return {"values": seen, "seconds": seconds, "first_value_s": first or 0.0}


def measure_belay030(values: int) -> dict[str, float] | None:
    python = ensure_belay030_venv()
    if python is None:
        return None
    with served_unix_board() as path:
        worker = subprocess.run(
            [str(python), str(WORKER), path, "--values", str(values)],
            cwd=HERE,
            env=_clean_env(),
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
    if worker.returncode != 0:
        raise RuntimeError(f"belay 0.30 generator worker failed: {worker.stderr[-2000:]}")
    result: dict[str, float] = json.loads(worker.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=formatter)
    parser.add_argument("--values", type=int, default=2000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    rows = {"belay (ours)": anyio.run(measure_ours, args.values), "Belay 0.30": measure_belay030(args.values)}
    print(f"{'':14} {'values/s':>10} {'first value':>12}")
    for name, row in rows.items():
        if row is None:
            print(f"{name:14} {'(not run)':>10}")
            continue
        rate = row["values"] / row["seconds"]
        print(f"{name:14} {rate:10.0f} {row['first_value_s'] * 1000:10.1f} ms")


if __name__ == "__main__":
    main()
