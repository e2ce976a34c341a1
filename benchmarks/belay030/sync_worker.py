"""Time Belay 0.30's ``Device.sync`` of an unchanged folder on a unix-port board served on a pty.

Runs with ``benchmarks/belay030/.venv/bin/python`` (see ``worker.py`` for why, and for the one
patch Belay 0.30 needs on the unix port: no soft reset on connect).

    .venv/bin/python sync_worker.py /dev/pts/N LOCAL_FOLDER [--runs 5]

Belay 0.30 wants an absolute ``dst``; on the unix port that is the host's own filesystem, so
the folder is synced into ``<board's cwd>/b030``. The first sync sends everything (not timed
as a no-change sync); each timed one finds every file unchanged by the board's hashes.
Prints one JSON line last: ``{"belay_version": ..., "first_s": ..., "seconds": [...]}``.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import sys
import time

import belay
from belay.device import Device


class UnixPortDevice(Device):
    """Belay 0.30's ``Device`` without the soft reset on connect (as in ``worker.py``)."""

    def _connect_to_board(self, **kwargs):
        self._board = belay.device.Pyboard(**kwargs)
        self._board.enter_raw_repl(soft_reset=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port")
    parser.add_argument("folder")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    version = importlib.metadata.version("belay")
    if not version.startswith("0.30."):
        sys.exit(f"sync_worker.py: expected belay 0.30.x, got {version} from {belay.__file__}")
    device = UnixPortDevice(args.port, startup="")
    try:
        cwd = device("__import__('os').getcwd()")
        if not cwd.startswith("/tmp/"):  # never let it write anywhere but the board's own folder
            sys.exit(f"sync_worker.py: the board's cwd is {cwd!r}, not a temporary folder")
        dst = cwd.rstrip("/") + "/b030"
        start = time.perf_counter()
        device.sync(args.folder, dst=dst)
        first_s = time.perf_counter() - start
        seconds = []
        for _ in range(args.runs):
            start = time.perf_counter()
            device.sync(args.folder, dst=dst)
            seconds.append(time.perf_counter() - start)
    finally:
        device.close()
    print(json.dumps({"belay_version": version, "first_s": first_s, "seconds": seconds}), flush=True)


if __name__ == "__main__":
    main()
