"""Stream values from a generator task of the original Belay 0.30 on a unix-port board on a pty.

Runs with ``benchmarks/belay030/.venv/bin/python`` (see ``worker.py`` for why, and for the two
narrow patches Belay 0.30 needs on the unix port, reused from there).

    .venv/bin/python generator_worker.py /dev/pts/N [--values 2000]

Prints one JSON line: ``{"belay_version": ..., "values": N, "seconds": S, "first_value_s": F}``
for ``@device.task def count(n): for k in range(n): yield k`` iterated to its end.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import sys
import time

from worker import UnixPortDevice


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", help="serial path of the board (a pty)")
    parser.add_argument("--values", type=int, default=2000)
    args = parser.parse_args()
    version = importlib.metadata.version("belay")
    if not version.startswith("0.30."):
        sys.exit(f"generator_worker.py: expected belay 0.30.x, got {version}")
    device = UnixPortDevice(args.port, startup="")
    try:

        @device.task
        def count(n):
            for k in range(n):  # noqa: UP028 - the same tight loop for both
                yield k

        assert list(count(10)) == list(range(10))  # warm-up
        start = time.perf_counter()
        first = None
        seen = 0
        for value in count(args.values):
            if first is None:
                first = time.perf_counter() - start
            assert value == seen, (value, seen)
            seen += 1
        seconds = time.perf_counter() - start
    finally:
        device.close()
    print(json.dumps({"belay_version": version, "values": seen, "seconds": seconds, "first_value_s": first}))


if __name__ == "__main__":
    main()
