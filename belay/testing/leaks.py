"""The leak check: what a test's session left on the board after it ended.

The board is looked at (by its own connection, outside every session) before the test's session
begins and after it ended: agent sessions (by ``sid``), threads that outlived their session
(``"<sid>/<thread>"`` in the agent's zombie list), names in the REPL's globals,
modules, files in the filesystem root (where ``session.fs`` temp files live), and the free heap
after ``gc.collect()``. A failure reported by the session's own cleanup (``ResourceCleanupError``)
is a leak too.
"""

from __future__ import annotations

import contextlib
import logging
import re
from dataclasses import dataclass, field

from belay.agent import calls
from belay.device import Device
from belay.errors import DeviceExecError, ResourceCleanupError
from belay.heap import WARM_UP_FREE_FROM
from belay.session.board import Board
from belay.session.files.facade import CHUNK
from belay.session.manager import DeviceSessionManager
from belay.session.session import DeviceSession

logger = logging.getLogger(__name__)

# Small calls (the micro:bit parses each in what is left of its ~9 KB heap), each an expression
# statement, so the REPL's globals get no new name; the heap is measured last.
TRACES_CODE = (
    "print(repr(list(globals())))",
    "print(repr(__import__('os').listdir()))",
    "print(repr(list(getattr(__import__('sys'), 'modules', {}))))",
    calls.live_session_ids(),
    calls.zombie_threads(),
)
HEAP_CODE = (
    "__import__('gc').collect()\n__import__('gc').collect()\nprint(__import__('gc').mem_free())\n"
    "getattr(__import__('micropython'), 'qstr_info', lambda: 0)()"
)
"""Board code: what the leak check compares, then the free heap and the interned-names line of
``micropython.qstr_info()``."""
FORGET_LAST_ERROR_CODE = "raise KeyError"
"""A board keeps its last uncaught exception, traceback and all (640 B for a 20-deep one on the
unix port), until the next one: a tiny one first, so a test's last error is not counted as lost."""

_INTERNED_BYTES = re.compile(r"n_total_bytes=(\d+)")

LONGEST_CALL_CODE = "#" + "-" * (4 * CHUNK + 128)
"""The raw REPL keeps its input buffer as large as the longest call so far (640 B more after a
``session.fs`` chunk of binary data, each byte sent as ``\\xNN``): the warm-up sends one that long
on boards with :data:`~belay.heap.WARM_UP_FREE_FROM` free. The micro:bit has no ~0.9 KB to spare
for it before the tests (its sessions then run out of memory), so there the first test that sends
such a call is charged for the buffer's growth."""

HEAP_MARGINS = {"microbit": 256}
"""Heap (bytes) a test may leave less free, by board platform, before it counts as a leak: what
MicroPython keeps for good (interned names of deployed functions) and what fragmentation costs.
Measured on hil_tests (worst -137 B on unix, -144 B on the micro:bit): see docs/testing.md."""
DEFAULT_HEAP_MARGIN = 512


def heap_margin(platform: str, override: int | None = None) -> int:
    """The heap margin for a board of ``platform`` (``override`` if given)."""
    return override if override is not None else HEAP_MARGINS.get(platform, DEFAULT_HEAP_MARGIN)


@dataclass(frozen=True, slots=True)
class BoardSnapshot:
    """What the leak check compares, as seen at one moment."""

    free: int
    names: frozenset[str]
    files: frozenset[str]
    sessions: frozenset[str]
    zombies: frozenset[str]
    modules: frozenset[str]
    reboots: int
    interned: int = 0
    """Bytes of interned names (qstrs): MicroPython keeps a name for good once it has seen it."""


async def snapshot(device: Device) -> BoardSnapshot:
    """Look at the board: sessions, zombie threads, globals, modules, root files, free heap."""
    names, files, modules, sessions, zombies = [await device.eval_code(code) for code in TRACES_CODE]
    with contextlib.suppress(DeviceExecError):
        await device.exec(FORGET_LAST_ERROR_CODE)
    heap = await device.exec(HEAP_CODE)
    free = heap.split()[0]
    interned = _INTERNED_BYTES.search(heap)
    return BoardSnapshot(
        int(free), frozenset(names), frozenset(files), frozenset(sessions), frozenset(zombies),
        frozenset(modules), device.reboots, int(interned.group(1)) if interned else 0,
    )  # fmt: skip


def heap_lost(before: BoardSnapshot, after: BoardSnapshot) -> int:
    """Free heap lost between the two, not counting what went to new interned names."""
    return (before.free - after.free) - (after.interned - before.interned)


def compare(before: BoardSnapshot, after: BoardSnapshot, margin: int) -> list[str]:
    """Every trace in ``after`` that was not in ``before``, one line each."""
    leaks = [
        f"session {sid} still held by the board's agent" for sid in sorted(after.sessions - before.sessions)
    ]
    for key in sorted(after.zombies - before.zombies):
        sid, _, name = key.partition("/")
        leaks.append(f"thread {name} still running after its session {sid} ended")
    leaks += [f"global name {name!r} added to the board's REPL namespace" for name in
              sorted(after.names - before.names)]  # fmt: skip
    leaks += [f"module {name!r} left in sys.modules" for name in sorted(after.modules - before.modules)]
    leaks += [f"file {name!r} left in the board's filesystem" for name in sorted(after.files - before.files)]
    lost = heap_lost(before, after)
    if lost > margin:
        leaks.append(
            f"heap: {lost} bytes less free than before the test, not counting new interned names "
            f"(margin {margin} bytes)"
        )
    return leaks


def cleanup_failures(error: ResourceCleanupError) -> list[str]:
    """The failures of a session's cleanup as leak lines (``thread blink-1 did not stop``)."""
    lines = []
    for name, cause in error.failures:
        text = cause.summary if isinstance(cause, DeviceExecError) else str(cause)
        lines.append(name if text == name else f"{name}: {text or type(cause).__name__}")
    return lines


def _merge(cleanup: list[str], found: list[str]) -> list[str]:
    """``found`` lines about a thread the cleanup already named are left out."""
    named = " ".join(cleanup)
    kept = [
        line for line in found if not (line.startswith("thread ") and f"thread {line.split()[1]} " in named)
    ]
    return cleanup + kept


async def open_board(manager: DeviceSessionManager, port: str) -> Board:
    """The board on ``port``, opened (again, if it was lost), the agent loaded (again, if the
    board rebooted) and warmed up, so
    what a board allocates for good on first use is not charged to the first test that uses it:
    a file written, read and removed (the micro:bit keeps 176 B after its first file write), and,
    on a board with room for it, one call as long as the longest ``session.fs`` sends."""
    board = manager.board(port)
    if board is None or board.device.is_lost or not board.agent_loaded:  # new, or rebooted since
        async with manager.session(port) as session:
            if session.capabilities.filesystem:
                path = f"belay-warm-up-{session.session_id}"
                await session.fs.put(b"belay warm-up", path)
                await session.fs.get(path)
                await session.fs.ls()
                await session.fs.rm(path)
        board = manager.board(port)
        assert board is not None
        if board.device.capabilities.mem_free >= WARM_UP_FREE_FROM:
            await board.device.exec(LONGEST_CALL_CODE)
    return board


def rebooted_during(board: Board) -> str:
    """The leak line of a test during which its board rebooted."""
    how = board.device.last_reboot or f"the board on {board.port} rebooted"
    return (
        f"the board rebooted during this test ({how}): everything on it is gone, so nothing was "
        "compared; the next test starts from a fresh baseline"
    )


@dataclass
class LeakReport:
    """The outcome of one test's session: what leaked, and how the free heap changed."""

    leaks: list[str] = field(default_factory=list)
    heap_change: int | None = None
    """Free heap after minus before in bytes, not counting new interned names (``None``: not measured)."""
    margin: int | None = None
    rebooted: bool = False
    """The board rebooted during the test: ``leaks`` says so, and nothing was compared."""


class LeakCheck:
    """Opens a test's session on ``port`` and, when it ends, says what it left on the board."""

    def __init__(self, manager: DeviceSessionManager, port: str, *, enabled: bool,
                 margin: int | None = None) -> None:  # fmt: skip
        self.manager = manager
        self.port = port
        self.enabled = enabled
        self.margin_override = margin
        self.session: DeviceSession | None = None
        self._before: BoardSnapshot | None = None

    async def start(self) -> DeviceSession:
        """Look at the board (when checking), then begin the test's session."""
        board = self.manager.board(self.port)
        if self.enabled and board is not None:
            self._before = await snapshot(board.device)
        self.session = await self.manager.create_session(self.port)
        return self.session

    async def finish(self) -> LeakReport:
        """End the session; compare the board with how it was before."""
        assert self.session is not None, "start() first"
        report = LeakReport()
        try:
            await self.manager.end_session(self.session.session_id)
        except ResourceCleanupError as error:
            report.leaks = cleanup_failures(error)
            if not self.enabled:
                logger.warning("%s", error)
        if self.enabled and self._before is not None:
            await self._compare(report)
        return report

    async def _compare(self, report: LeakReport) -> None:
        board = self.manager.board(self.port)
        before = self._before
        if board is not None and before is not None and board.device.reboots != before.reboots:
            report.leaks, report.rebooted = [rebooted_during(board)], True  # nothing left to compare
            return
        if board is None or before is None or board.device.is_lost:
            logger.info("board on %s lost during the test: nothing of it is left", self.port)
            return
        after = await snapshot(board.device)
        report.margin = heap_margin(board.device.info.platform, self.margin_override)
        report.heap_change = -heap_lost(before, after)
        report.leaks = _merge(report.leaks, compare(before, after, report.margin))
