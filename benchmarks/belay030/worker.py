"""Time task calls of the original Belay 0.30 on a MicroPython unix-port board served on a pty.

Runs with ``benchmarks/belay030/.venv/bin/python`` (made by ``setup.sh``), never with our own
venv: Belay 0.30's import name ``belay`` is the same as ours.

    .venv/bin/python worker.py /dev/pts/N [--calls 1000] [--warmup 50]

The pty is served by our ``belay virtual-board --kind unix``. Prints one JSON line last:
``{"belay_version": ..., "calls": N, "seconds": [...], "median_us": ..., "p90_us": ...}``.

What is timed is ``add(1, 2)`` for ``@device.task def add(a, b): return a + b``: the function
is sent once at decoration; each call sends ``add(*(1, 2), **{})`` (Belay wraps it with its
timing/repr helpers, as it does by default) and parses the answer.

Two things in Belay 0.30 assume a real board and are changed here, as narrowly as possible:

1. Soft reset on connect. ``Device._connect_to_board`` calls
   ``Pyboard.enter_raw_repl(soft_reset=True)`` (Ctrl-D at the raw prompt) for every serial
   connection. On the unix port a Ctrl-D at the raw REPL ends the ``micropython`` process,
   so the board would be gone. :class:`UnixPortDevice` overrides only that method, entering
   the raw REPL with ``soft_reset=False`` (what Belay itself does for WebREPL).
2. ``machine.Pin``. With the default ``startup=None``, ``Device.__init__`` runs the
   ``convenience_imports_micropython`` snippet, which does ``from machine import Pin, Timer``;
   the unix port's ``machine`` has no ``Pin`` (nor ``Timer``), so it raises ``ImportError``.
   Passing ``startup=""`` (Belay's own documented switch) skips that snippet; Belay's
   ``startup`` snippet (``import os, sys, time`` and its ``__belay_*`` helpers, which task
   calls use) still runs.

Neither touches the task-call path that is measured.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import statistics
import sys
import time

import belay
from belay.device import Device


class UnixPortDevice(Device):
    """Belay 0.30's ``Device`` without the soft reset on connect (patch 1 above)."""

    def _connect_to_board(self, **kwargs):
        self._board = belay.device.Pyboard(**kwargs)
        self._board.enter_raw_repl(soft_reset=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("port", help="serial path of the board (a pty)")
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=50)
    args = parser.parse_args()
    version = importlib.metadata.version("belay")
    if not version.startswith("0.30."):  # our belay-sdk shadowing it, or a wrong venv
        sys.exit(f"worker.py: expected belay 0.30.x, got {version} from {belay.__file__}")

    connect_start = time.perf_counter()
    device = UnixPortDevice(args.port, startup="")  # startup="": patch 2 above
    connect_s = time.perf_counter() - connect_start
    try:

        @device.task
        def add(a, b):
            return a + b

        for _ in range(args.warmup):
            assert add(1, 2) == 3

        seconds = []
        for _ in range(args.calls):
            start = time.perf_counter()
            value = add(1, 2)
            seconds.append(time.perf_counter() - start)
            assert value == 3, value
    finally:
        device.close()

    quantiles = statistics.quantiles(seconds, n=10) if len(seconds) > 1 else seconds * 9
    print(
        json.dumps(
            {
                "belay_version": version,
                "python": sys.version.split()[0],
                "connect_s": connect_s,
                "calls": len(seconds),
                "seconds": seconds,
                "median_us": statistics.median(seconds) * 1e6,
                "p90_us": quantiles[-1] * 1e6,
            }
        ),
        flush=True,
    )


if __name__ == "__main__":
    main()
