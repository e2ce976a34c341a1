"""``belay dev`` run as a process by the tests: its lines read by threads, so waiting for one
never blocks for good; the process is ended by its pid in every path."""

from __future__ import annotations

import queue
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BELAY = [sys.executable, "-m", "belay"]
MAIN = 'import lib.sensor, time\nprint("main", lib.sensor.read())\nwhile True:\n    print("tick", lib.sensor.read())\n    time.sleep_ms(100)\n'  # noqa: E501


def belay(*arguments: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*BELAY, *arguments], capture_output=True, text=True, timeout=timeout)


def sensor(value: str) -> str:
    return f'def read():\n    return "{value}"\n'


class Lines:
    """What a process prints, line by line, read by a thread (so waiting never blocks for good)."""

    def __init__(self, stream: object) -> None:
        self.seen: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            self._queue.put(line.rstrip("\n"))

    def wait_for(self, text: str, seconds: float = 30.0) -> int:
        """The index in :attr:`seen` of the first line holding ``text``; fails after ``seconds``."""
        return self.wait_for_count(text, 1, seconds)

    def wait_for_count(self, text: str, count: int, seconds: float = 30.0) -> int:
        """The index in :attr:`seen` of the ``count``-th line holding ``text``; fails after ``seconds``."""
        end = time.monotonic() + seconds
        while True:
            found = [index for index, line in enumerate(self.seen) if text in line]
            if len(found) >= count:
                return found[count - 1]
            try:
                self.seen.append(self._queue.get(timeout=max(0.01, end - time.monotonic())))
            except queue.Empty:
                raise AssertionError(f"no line with {text!r}; saw {self.seen[-15:]}") from None


@contextmanager
def belay_dev(
    *arguments: str, cwd: Path | None = None
) -> Iterator[tuple[subprocess.Popen[str], Lines, Lines]]:
    """``belay dev ARGUMENTS`` (in folder ``cwd``): the process, its stdout and stderr lines;
    killed (by its pid) with the block if it is still running."""
    dev = subprocess.Popen([*BELAY, "dev", *arguments], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, cwd=cwd)  # fmt: skip
    try:
        yield dev, Lines(dev.stdout), Lines(dev.stderr)
    finally:
        if dev.poll() is None:
            dev.kill()
        dev.wait(timeout=30)


def write_project(root: Path, files: dict[str, str | bytes]) -> Path:
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            (root / name).write_bytes(content)
        else:
            (root / name).write_text(content)
    return root
