"""The edit-run loop, save to the new run's first output line: ``belay dev`` against the same loop
done with mpremote (``fs cp`` of the changed file, ``soft-reset``, ``run main.py``), on the unix
board behind a simulated 115200-baud line, with a 50-file, 3-folder project where one 1 KB module
changes. Ratios from one run; run from the project root:

    .venv/bin/python benchmarks/bench_dev_loop.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from belay.transports.process import end_process

BIN = Path(sys.executable).parent
MAIN = 'import lib0.mod0\nprint("run", lib0.mod0.VERSION)\n'


def make_project(root: Path) -> Path:
    for folder in range(3):
        package = root / f"lib{folder}"
        package.mkdir()
        (package / "__init__.py").write_text("")
        for index in range(16):
            (package / f"mod{index}.py").write_text(module(0, f"{folder}-{index}"))
    (root / "main.py").write_text(MAIN)
    return root / "lib0" / "mod0.py"


def module(version: int, name: str = "0-0") -> str:
    body = "".join(f"def f{n}(x):\n    return x * {n} + {version}\n" for n in range(40))
    return f"VERSION = {version}\nNAME = {name!r}\n" + body[: 1024 - 40]


def lines_of(process: subprocess.Popen[str]) -> queue.Queue[str]:
    found: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [found.put(line) for line in process.stdout], daemon=True).start()  # type: ignore[union-attr]
    return found


def wait_for(found: queue.Queue[str], text: str, seconds: float = 60) -> None:
    end = time.monotonic() + seconds
    while True:
        if text in found.get(timeout=max(0.01, end - time.monotonic())):
            return


def belay_dev(rounds: int) -> list[float]:
    root = Path(tempfile.mkdtemp())
    changed = make_project(root)
    dev = subprocess.Popen([str(BIN / "belay"), "dev", str(root), "--port", "unix?baud=115200"],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)  # fmt: skip
    try:
        found = lines_of(dev)
        wait_for(found, "run 0", 180)
        times = []
        for version in range(1, rounds + 1):
            started = time.perf_counter()
            changed.write_text(module(version))
            wait_for(found, f"run {version}")
            times.append(time.perf_counter() - started)
        return times
    finally:
        end_process(dev, grace=30)


def mpremote_loop(rounds: int) -> list[float]:
    root = Path(tempfile.mkdtemp())
    changed = make_project(root)
    server = subprocess.Popen([str(BIN / "belay"), "virtual-board", "--kind", "unix", "--baud", "115200"],
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        port = server.stdout.readline().strip()  # type: ignore[union-attr]
        mpremote = [str(BIN / "mpremote"), "connect", port]
        upload = [str(BIN / "belay"), "sync", str(root), "--port", port]  # the first upload is not timed
        subprocess.run(upload, capture_output=True, check=True, timeout=600)
        times = []
        for version in range(1, rounds + 1):
            started = time.perf_counter()
            changed.write_text(module(version))
            loop = [*mpremote, "fs", "cp", str(changed), ":lib0/mod0.py", "+", "soft-reset", "+", "run",
                    str(root / "main.py")]  # fmt: skip
            run = subprocess.Popen(loop, stdout=subprocess.PIPE, text=True)
            wait_for(lines_of(run), f"run {version}")
            times.append(time.perf_counter() - started)
            run.wait(timeout=60)
        return times
    finally:
        end_process(server, grace=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    ours, theirs = belay_dev(rounds), mpremote_loop(rounds)
    for name, times in (("belay dev", ours), ("mpremote cp + soft-reset + run", theirs)):
        print(f"{name:34} save -> first line: median {statistics.median(times) * 1000:6.0f} ms "
              f"(min {min(times) * 1000:.0f}, max {max(times) * 1000:.0f})")  # fmt: skip
    print(f"belay dev is {statistics.median(theirs) / statistics.median(ours):.1f}x faster")


if __name__ == "__main__":
    main()
