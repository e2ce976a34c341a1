"""A no-change sync of a 50-file, 3-folder tree at 115200 baud: belay beside mpremote and Belay 0.30.

    .venv/bin/python benchmarks/bench_sync.py [--runs 5] [--baud 115200] [--microbit]

One unix-port board served on a pty by ``belay virtual-board --kind unix --baud 115200`` (the
simulated 8N1 line, ``belay/transports/paced_line.py``), used by every contender in turn, each
into a folder of its own. Each syncs the tree once (everything sent), then ``--runs`` times
unchanged; the medians of the unchanged runs are printed:

- belay ``session.fs.sync`` in an open session (the call alone), and the whole ``belay sync``
  command (a process: Python's start, opening the board and a session, the sync, the end);
- ``mpremote connect PTY resume fs cp -r`` (a process; it skips a file whose sha256 on the
  board matches);
- Belay 0.30's ``Device.sync`` in its own venv (the call alone, after connecting), through
  ``benchmarks/belay030/sync_worker.py``.

``--microbit`` adds belay's own no-change sync of a flat 10-file folder on the micro:bit in
QEMU behind the same line (mpremote and Belay 0.30 cannot skip by hash there: no hashlib).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
from bench_belay030 import HERE, _belay_command, _clean_env, ensure_belay030_venv

from belay import DeviceSessionManager
from belay.transports.process import kill_process_group

logger = logging.getLogger("bench_sync")
SYNC_WORKER = HERE / "sync_worker.py"
FOLDERS = ("", "lib", "lib/drivers", "data")


def make_tree(root: Path, files: int = 50, folders: tuple[str, ...] = FOLDERS) -> Path:
    """``files`` Python-like files of 300-700 bytes spread over ``folders`` (the root, and three)."""
    for number in range(files):
        path = root / folders[number % len(folders)] / f"module_{number:02d}.py"
        path.parent.mkdir(parents=True, exist_ok=True)
        body = "".join(f"VALUE_{number}_{line} = {line * number}\n" for line in range(15 + number % 20))
        path.write_text(f'"""Module {number}."""\n\n{body}')
    return root


@contextlib.contextmanager
def served_board(kind: str, baud: int) -> Iterator[str]:
    """``belay virtual-board --kind KIND --baud BAUD`` for the duration; yields its pty."""
    command = [*_belay_command(), "virtual-board", "--kind", kind, "--baud", str(baud)]
    server = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, start_new_session=True
    )
    try:
        assert server.stdout is not None
        ready, _, _ = select.select([server.stdout], [], [], 60)
        line = server.stdout.readline().decode().strip() if ready else ""
        if not line.startswith("/"):
            raise RuntimeError(f"belay virtual-board announced no pty (got {line!r})")
        yield line
    finally:
        if server.poll() is None:
            server.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                server.wait(timeout=20)
        kill_process_group(server)
        if server.stdout is not None:
            server.stdout.close()


async def belay_in_session(port: str, tree: Path, target: str, runs: int) -> tuple[float, list[float]]:
    async with DeviceSessionManager() as manager, manager.session(port, on_output=None) as session:
        start = time.perf_counter()
        await session.fs.sync(tree, target)
        first = time.perf_counter() - start
        seconds = []
        for _ in range(runs):
            start = time.perf_counter()
            report = await session.fs.sync(tree, target)
            seconds.append(time.perf_counter() - start)
            assert not report.uploaded and len(report.unchanged) == 50, report
    return first, seconds


def timed_process(
    command: list[str], runs: int, *, env: dict[str, str] | None = None
) -> tuple[float, list[float]]:
    """Seconds of one first run, then of ``runs`` more, of ``command`` (each must succeed)."""
    times = []
    for _ in range(runs + 1):
        start = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False, env=env)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise RuntimeError(f"{command[:3]} failed ({done.returncode}): {done.stderr[-1000:]}")
    return times[0], times[1:]


def belay030(port: str, tree: Path, runs: int) -> tuple[float, list[float]] | None:
    python = ensure_belay030_venv()
    if python is None:
        return None
    command = [str(python), "-I", str(SYNC_WORKER), port, str(tree), "--runs", str(runs)]
    done = subprocess.run(command, env=_clean_env(), capture_output=True, text=True, timeout=900, check=False)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        raise RuntimeError(f"belay 0.30 sync worker failed ({done.returncode}): {done.stderr[-2000:]}")
    result = json.loads(lines[-1])
    return float(result["first_s"]), [float(s) for s in result["seconds"]]


def report(name: str, first: float, seconds: list[float], ours: float | None = None) -> float:
    median = statistics.median(seconds)
    ratio = f"  ({median / ours:.1f}x belay's call)" if ours else ""
    print(f"{name:<44} first {first:6.2f} s   unchanged: median {median:6.3f} s{ratio}")
    return median


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--baud", type=int, default=115200)
    parser.add_argument("--microbit", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    with tempfile.TemporaryDirectory() as scratch:
        tree = make_tree(Path(scratch) / "tree")
        print(
            f"no-change sync of 50 files in 3 folders (and the root) at {args.baud} baud, unix board on a pty"
        )
        with served_board("unix", args.baud) as port:
            first, seconds = anyio.run(belay_in_session, port, tree, "belay", args.runs)
            ours = report("belay session.fs.sync (the call)", first, seconds)
            first, seconds = timed_process(
                [*_belay_command(), "sync", str(tree), ":belay_cli", "-p", port], args.runs
            )
            cli = report("belay sync (the whole command)", first, seconds, ours)
            mpremote = [
                str(Path(sys.executable).with_name("mpremote")),
                "connect",
                port,
                "resume",
                "fs",
                "cp",
                "-r",
            ]
            first, seconds = timed_process([*mpremote, str(tree), ":"], args.runs)
            median = report("mpremote fs cp -r (the whole command)", first, seconds, ours)
            print(f"{'':<44} ({median / cli:.1f}x belay's whole command)")
            measured = belay030(port, tree, args.runs)
            if measured is None:
                print("belay 0.30: not measured (see the log above)")
            else:
                report("Belay 0.30 Device.sync (the call)", *measured, ours)
        if args.microbit:
            flat = make_tree(Path(scratch) / "flat", files=10, folders=("",))
            with served_board("microbit", args.baud) as port:
                first, seconds = anyio.run(belay_microbit, port, flat, args.runs)
                report("micro:bit: belay session.fs.sync, 10 flat files", first, seconds)


async def belay_microbit(port: str, tree: Path, runs: int) -> tuple[float, list[float]]:
    async with DeviceSessionManager() as manager, manager.session(port, on_output=None) as session:
        start = time.perf_counter()
        await session.fs.sync(tree)
        first = time.perf_counter() - start
        seconds = []
        for _ in range(runs):
            start = time.perf_counter()
            result = await session.fs.sync(tree)
            seconds.append(time.perf_counter() - start)
            assert not result.uploaded and len(result.unchanged) == 10, result
    return first, seconds


if __name__ == "__main__":
    main()
