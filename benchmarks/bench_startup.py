"""Start-up: ``belay exec --port unix "print(1)"`` end to end, beside the floors it stands on.

    python benchmarks/bench_startup.py [--rounds 15] [--before SRC] [--json]

Contenders, run interleaved round by round (their order rotating) so machine noise hits all
alike, each a fresh process timed from spawn to exit:

- ``python -c pass``:              the interpreter's own start-up, the floor of any Python CLI.
- ``micropython -c print(1)``:     the unix board's interpreter running the same code, no host.
- ``asyncio.run``, ``anyio.run``:  an event loop started and stopped, nothing else: the floor
  of any asyncio (and of any anyio) command.
- ``floor``:                       ``startup_floor.py``, the least an anyio program does for the
  same output (a fresh unix board on a pty, its raw REPL, ``print(1)``): no belay, no agent.
- ``import belay.cli``:            what every ``belay`` command pays before it parses its arguments.
- ``belay --version``, ``ports``:  commands that open no board.
- ``belay exec -p unix print(1)``: the whole round: start-up, a unix board started, the agent
  loaded, a session begun and ended, the board stopped.

``--before SRC`` adds the ``import belay.cli``, ``ports`` and ``exec`` rows run from another
source tree (``git archive <commit> | tar -x -C SRC``), so a change's effect is measured in the
same run.
Figures are medians (and minimums) in milliseconds, and ratios to ``python -c pass`` and to
``micropython -c``.

Bytecode: every contender runs with its ``.pyc`` files cached (in a temporary
``PYTHONPYCACHEPREFIX``, written in the warm-up round), as an installed package's are, even
where ``PYTHONDONTWRITEBYTECODE`` is set (as in some CI and sandboxes): compiling belay's
sources again on every run is not start-up that users pay. The ``(no .pyc)`` row shows what it
costs where it happens.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence

PY = sys.executable
HERE = os.path.dirname(os.path.abspath(__file__))
NEUTRAL = tempfile.gettempdir()
PYCACHE = tempfile.mkdtemp(prefix="belay-bench-pyc-")
NO_PYC = "-"
"""An ``extra`` environment value meaning: leave the variable out."""


def contenders(before: str | None) -> dict[str, tuple[list[str], dict[str, str]]]:
    """Each contender's command and the environment variables it adds."""
    micropython = shutil.which("micropython", path=os.path.dirname(PY)) or shutil.which("micropython")
    belay = [PY, "-m", "belay"]
    found: dict[str, tuple[list[str], dict[str, str]]] = {
        "python -c pass": ([PY, "-c", "pass"], {}),
        "asyncio.run(sleep(0))": ([PY, "-c", "import asyncio; asyncio.run(asyncio.sleep(0))"], {}),
        "anyio.run(sleep, 0)": ([PY, "-c", "import anyio; anyio.run(anyio.sleep, 0)"], {}),
        "floor: anyio + raw REPL print(1)": ([PY, os.path.join(HERE, "startup_floor.py")], {}),
        "import belay.cli": ([PY, "-c", "import belay.cli"], {}),
        "belay --version": ([*belay, "--version"], {}),
        "belay ports": ([*belay, "ports"], {}),
        "belay exec -p unix print(1)": ([*belay, "exec", "-p", "unix", "print(1)"], {}),
        "belay exec -p unix print(1) (no .pyc)": (
            [*belay, "exec", "-p", "unix", "print(1)"],
            {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONPYCACHEPREFIX": NO_PYC},
        ),
    }
    if micropython:
        found["micropython -c print(1)"] = ([micropython, "-c", "print(1)"], {})
    if before:
        old = {"PYTHONPATH": os.path.abspath(before)}
        found["import belay.cli (before)"] = ([PY, "-c", "import belay.cli"], old)
        found["belay ports (before)"] = ([*belay, "ports"], old)
        found["belay exec -p unix print(1) (before)"] = ([*belay, "exec", "-p", "unix", "print(1)"], old)
    return found


def time_once(command: list[str], extra: dict[str, str]) -> float:
    """Seconds from spawn to exit; a failing command stops the benchmark."""
    dropped = ("BELAY_PORT", "PYTHONPATH", "PYTHONDONTWRITEBYTECODE")
    environ = {k: v for k, v in os.environ.items() if k not in dropped}
    environ["PYTHONPYCACHEPREFIX"] = PYCACHE
    environ.update(extra)
    environ = {k: v for k, v in environ.items() if v != NO_PYC}
    started = time.perf_counter()
    # From a neutral folder: ``python -c`` puts the current folder first on sys.path.
    done = subprocess.run(command, capture_output=True, env=environ, timeout=60, check=False, cwd=NEUTRAL)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}): {done.stderr.decode()[-400:]}")
    return elapsed


def measure(rounds: int, before: str | None) -> dict[str, list[float]]:
    """``rounds`` timings of every contender, interleaved, their order rotating each round."""
    runs = contenders(before)
    names = list(runs)
    samples: dict[str, list[float]] = {name: [] for name in names}
    for name in names:  # one untimed warm-up each: the OS's file cache, .pyc files
        time_once(*runs[name])
    for round_ in range(rounds):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            samples[name].append(time_once(*runs[name]))
    return samples


def report(samples: dict[str, list[float]]) -> dict[str, dict[str, float | None]]:
    """Median and minimum in ms, and the median's ratio to the two floors."""
    medians = {name: statistics.median(values) for name, values in samples.items()}
    python, micropython = medians["python -c pass"], medians.get("micropython -c print(1)")
    return {
        name: {
            "median_ms": round(1000 * medians[name], 1),
            "min_ms": round(1000 * min(values), 1),
            "x_python": round(medians[name] / python, 2),
            "x_micropython": round(medians[name] / micropython, 2) if micropython else None,
        }
        for name, values in samples.items()
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--before", help="another source tree to time beside this one")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    try:
        figures = report(measure(args.rounds, args.before))
    finally:
        shutil.rmtree(PYCACHE, ignore_errors=True)
    if args.json:
        print(json.dumps(figures, indent=2))
        return
    print(f"{'':40} {'median':>8} {'min':>8} {'x python':>9} {'x micropython':>14}   ({args.rounds} rounds)")
    for name, row in figures.items():
        mp = f"{row['x_micropython']:.2f}" if row["x_micropython"] is not None else "-"
        times = f"{row['median_ms']:>6.1f}ms {row['min_ms']:>6.1f}ms"
        print(f"{name:40} {times} {row['x_python']:>9.2f} {mp:>14}")


if __name__ == "__main__":
    main()
