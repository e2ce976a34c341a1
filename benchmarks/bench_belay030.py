"""Task-call latency of the original Belay project, version 0.30, on the MicroPython unix port.

    .venv/bin/python benchmarks/bench_belay030.py [--calls 1000]

The yardstick for our cached task call: Belay 0.30's ``@device.task def add(a, b)`` then
``add(1, 2)``, on a unix-port board that our ``belay virtual-board --kind unix`` serves on a
pty. Belay 0.30 (PyPI ``belay``) has our import name, so it runs in a virtual environment of its
own, ``benchmarks/belay030/.venv``, made by ``benchmarks/belay030/setup.sh`` on first use
(about half a minute, needs PyPI), and is driven by ``benchmarks/belay030/worker.py`` in a
subprocess. The two patches Belay 0.30 needs on the unix port are described in ``worker.py``.

Other benchmarks import :func:`measure_belay030`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import select
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from belay.transports.process import kill_process_group

logger = logging.getLogger("bench_belay030")

HERE = Path(__file__).resolve().parent / "belay030"
SETUP = HERE / "setup.sh"
WORKER = HERE / "worker.py"
VENV_PYTHON = HERE / ".venv" / "bin" / "python"
WARMUP_CALLS = 50
SETUP_TIMEOUT_S = 600.0
SERVER_START_TIMEOUT_S = 30.0


def _clean_env() -> dict[str, str]:
    """Our environment without what could make Belay's venv import our ``belay`` (or vice versa)."""
    env = dict(os.environ)
    for name in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP"):
        env.pop(name, None)
    return env


def ensure_belay030_venv() -> Path | None:
    """The Belay 0.30 venv's python, made by ``setup.sh`` if needed; ``None`` (logged) if it can't be."""
    start = time.perf_counter()
    try:
        setup = subprocess.run(
            ["bash", str(SETUP)],
            env=_clean_env(),
            capture_output=True,
            text=True,
            timeout=SETUP_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        logger.warning("belay 0.30 venv could not be made: %s", error)
        return None
    if setup.returncode != 0 or not VENV_PYTHON.exists():
        tail = (setup.stderr or setup.stdout).strip().splitlines()[-5:]
        logger.warning(
            "belay 0.30 venv could not be made (setup.sh exit %d): %s", setup.returncode, " | ".join(tail)
        )
        return None
    logger.info("%s (%.1f s)", setup.stdout.strip().splitlines()[-1], time.perf_counter() - start)
    return VENV_PYTHON


def _belay_command() -> list[str]:
    """Our ``belay`` command from the venv running this file, else ``python -m belay``."""
    script = Path(sys.executable).with_name("belay")
    return [str(script)] if script.exists() else [sys.executable, "-m", "belay"]


@contextlib.contextmanager
def served_unix_board() -> Iterator[str]:
    """``belay virtual-board --kind unix`` for the duration; yields its pty path, then ends it."""
    server = subprocess.Popen(
        [*_belay_command(), "virtual-board", "--kind", "unix"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert server.stdout is not None
        ready, _, _ = select.select([server.stdout], [], [], SERVER_START_TIMEOUT_S)
        line = server.stdout.readline().decode().strip() if ready else ""
        if not line.startswith("/"):
            raise RuntimeError(f"belay virtual-board announced no pty (got {line!r})")
        yield line
    finally:
        # SIGTERM first: the server then closes its board (the micropython process lives in a
        # session of its own, out of reach of a killpg on the server); SIGKILL if it lingers.
        if server.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                server.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.wait(timeout=10)
        if server.returncode not in (None, 0):
            assert server.stderr is not None
            logger.debug("virtual-board exit %s: %s", server.returncode, server.stderr.read()[-500:])
        kill_process_group(server)
        if server.stderr is not None:
            server.stderr.close()


def measure_belay030(calls: int) -> list[float] | None:
    """Seconds taken by each of ``calls`` calls of Belay 0.30's task ``add(1, 2)`` on a unix board.

    Makes Belay 0.30's venv first if needed (``None``, with the reason logged, when it can't be:
    no PyPI, no ``python3 -m venv``...). Starts ``belay virtual-board --kind unix`` and always ends
    it. A venv that exists but whose worker fails raises ``RuntimeError``: that is a bug to see.
    """
    python = ensure_belay030_venv()
    if python is None:
        return None
    with served_unix_board() as path:
        worker = subprocess.run(
            [str(python), "-I", str(WORKER), path, "--calls", str(calls), "--warmup", str(WARMUP_CALLS)],
            env=_clean_env(),
            capture_output=True,
            text=True,
            timeout=120 + calls * 0.05,
            check=False,
        )
    lines = worker.stdout.strip().splitlines()
    if worker.returncode != 0 or not lines:
        raise RuntimeError(f"belay 0.30 worker failed (exit {worker.returncode}): {worker.stderr[-2000:]}")
    result = json.loads(lines[-1])
    logger.info(
        "belay %s on python %s: connected in %.2f s, %d calls timed",
        result["belay_version"],
        result["python"],
        result["connect_s"],
        result["calls"],
    )
    seconds: list[float] = result["seconds"]
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--calls", type=int, default=1000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    seconds = measure_belay030(args.calls)
    if seconds is None:
        print("belay 0.30: not measured (see the log above)")
        sys.exit(1)
    median_us = statistics.median(seconds) * 1e6
    p90_us = statistics.quantiles(seconds, n=10)[-1] * 1e6
    print(f"belay 0.30 task add(1, 2) on unix: {len(seconds)} calls", end="")
    print(f", median {median_us:.0f} us, p90 {p90_us:.0f} us")


if __name__ == "__main__":
    main()
