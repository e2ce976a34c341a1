"""The steps of ``belay dev``: sync (abandoned at a file's end when a save arrives), run the
entry in a session of its own, follow what it prints, and wait for a board that went away.

Every step tells the loop how it ended; :func:`loop` chains them. A sync is abandoned only
between files: each put writes a temporary file and renames it over its target in its last
call (:mod:`belay.session.files.transfer`), so the board never holds half a file. A board
lost (unplugged, reset, its interpreter killed) is asked for again every
:data:`REOPEN_SECONDS` at the same port; once it answers the loop syncs by the board's hashes
and runs the entry again.
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import anyio

from belay.cli.dev_watch import Changes, syntax_errors
from belay.errors import BelayError, DeviceExecError, ProtocolError, ResourceCleanupError, TransportError
from belay.session.state import SessionState

if TYPE_CHECKING:
    from belay.session.manager import DeviceSessionManager
    from belay.session.session import DeviceSession

FOLLOW_SECONDS = 0.1
"""How often a run's session is asked what its background code printed."""
REOPEN_SECONDS = 0.5
"""How often a board that went away is asked for again."""
logger = logging.getLogger(__name__)

PROGRESS_FROM = 8 * 1024
"""A sync that sends at least this many bytes says each file as it is done (on a slow line it
takes seconds)."""


class Status:
    """The loop's ``belay dev:`` lines on stderr."""

    def __init__(self, err: TextIO) -> None:
        self._err = err

    def say(self, text: str) -> None:
        self._err.write(f"belay dev: {text}\n")
        self._err.flush()


class SyncRestart(Exception):
    """A save arrived while a sync was sending: it is abandoned at the end of a file."""


class BoardGone(Exception):
    """The board went away (or rebooted) during a step."""

    def __init__(self, error: BelayError) -> None:
        super().__init__(str(error))
        self.error = error


def module_names(paths: list[str]) -> list[str]:
    """The module names ``paths`` (``lib/sensor.py``, ``lib/__init__.mpy``) are imported as,
    with their packages: what the next run must import afresh."""
    names: set[str] = set()
    for path in paths:
        stem, dot, suffix = path.rpartition(".")
        if not dot or suffix not in ("py", "mpy"):
            continue
        parts = [part for part in stem.split("/") if part]
        if parts and parts[-1] == "__init__":
            parts.pop()
        names.update(".".join(parts[: end + 1]) for end in range(len(parts)))
    return sorted(names)


def forget_modules(names: list[str]) -> str:
    """Board code that drops ``names`` from ``sys.modules`` (where the board has it)."""
    return (
        f"import sys\nfor _n in {names!r}:\n if hasattr(sys, 'modules'): sys.modules.pop(_n, None)\ndel _n\n"
    )


def stuck_threads(error: ResourceCleanupError) -> list[str]:
    """The threads a session's end reported still running (``thread blink#1``): ones that
    neither sleep nor print (their stop points), nor look at ``belay_agent.running()``."""
    found = (re.fullmatch(r"(thread \S+) did not stop", what) for what, _ in error.failures)
    return [match.group(1) for match in found if match]


async def running_threads(session: DeviceSession) -> list[str]:
    """The session's threads still running (``thread _blink#1``), on boards with threads: one
    short call (the whole ``board_stats`` is ~600 bytes and two collections, each run, on a slow line)."""
    from belay.agent import calls

    if not session.capabilities.threads:
        return []
    code, timeout = calls.running_threads(session.ref), session.options.bookkeeping_timeout
    return [f"thread {name}" for name in await session.run_value(code, timeout=timeout)]


def files(count: int) -> str:
    return f"{count} file{'s' if count != 1 else ''}"


def where(traceback: str, local: Path, remote: str) -> str:
    """`` at FILE:LINE`` of a board traceback's last frame, if it names one; the file relative
    to LOCAL (the entry is run under its host path, modules under their board paths)."""
    frames = re.findall(r'File "([^"]+)", line (\d+)', traceback)
    if not frames:
        return ""
    path, line = frames[-1]
    for prefix in (f"{local.resolve()}/", f"/{remote}/" if remote else "/"):
        if path.startswith(prefix):
            path = path[len(prefix) :]
            break
    return f" at {path}:{line}"


class DevLoop:
    """One ``belay dev`` run: the manager, the folders, the entry, and the status line."""

    def __init__(self, manager: DeviceSessionManager, port: str, local: Path, remote: str,
                 entry: str | None, args: argparse.Namespace, status: Status, out: Any) -> None:  # fmt: skip
        self.manager, self.port, self.local, self.remote = manager, port, local, remote
        self.entry, self.args, self.status, self.out = entry, args, status, out
        self.changes = Changes(local, args.exclude, args.include)
        self.stale: set[str] = set()  # board paths sent since the last run: imported afresh
        self.folders: set[str] | None = None  # the board folders the last whole sync left, relative to remote
        self.ran = False  # a run has been made since the last soft reset
        self.stuck: list[str] = []  # the last run's threads that did not stop at its end

    async def sync(self, changed: list[str]) -> None:
        """Send what changed: the ``changed`` files themselves where each is a file in a folder the
        board has (one put each, no walk), else a whole sync by the board's hashes. Raises
        :class:`SyncRestart` at a file's end when a save arrives, :class:`BoardGone`."""
        started = time.perf_counter()
        sent: list[str] = []
        if self.stuck and self.ran:  # they would run on beside the new run
            await self._soft_reset(f"the old run's {' and '.join(self.stuck)} did not stop")
        elif self.args.soft_reset and self.ran:  # everything of the old run ends before anything is sent
            await self._soft_reset("--soft-reset")

        async def send(session: DeviceSession) -> None:
            done = await self._put_changed(session, changed)
            if done is None:
                report = await session.fs.sync(self.local, self.remote, exclude=self.args.exclude,
                                               include=self.args.include, mpy=self.args.mpy,
                                               progress=self._sent)  # fmt: skip
                self.folders = {path.rpartition("/")[0] for path in (*report.uploaded, *report.unchanged)}
                done = list(report.uploaded)
            sent.extend(done)

        await self._in_session(None, send)
        took = (time.perf_counter() - started) * 1000
        self.status.say(f"synced {files(len(sent))} in {took:.0f} ms")

    def _sent(self, target: str, done: int, total: int) -> None:
        """A file is on the board (renamed over its target): the next run imports it afresh;
        a save that arrived meanwhile abandons the sync here."""
        self.stale.add(target)
        if total >= PROGRESS_FROM:
            self.status.say(f"sent :{target} ({done / 1024:.1f} of {total / 1024:.1f} KB)")
        if self.changes.pending:
            raise SyncRestart

    async def _put_changed(self, session: DeviceSession, changed: list[str]) -> list[str] | None:
        """The board paths of ``changed`` put one by one; ``None`` where a whole sync is needed
        (a first sync, ``--mpy``, a new folder, a file gone or not a file)."""
        from belay.session.files.paths import join

        if not changed or self.args.mpy or self.folders is None:
            return None
        if any(not (self.local / path).is_file() or path.rpartition("/")[0] not in self.folders
               for path in changed):  # fmt: skip
            return None
        data = [await anyio.Path(self.local / path).read_bytes() for path in changed]
        total, done = sum(len(content) for content in data), 0
        for path, content in zip(changed, data, strict=True):
            await session.fs.put(content, join(self.remote, path))
            done += len(content)
            self._sent(join(self.remote, path), done, total)
        return [join(self.remote, path) for path in changed]

    async def _in_session(self, printer: Any, step: Callable[[DeviceSession], Awaitable[None]]) -> None:
        """``step`` in a session of its own; :class:`BoardGone` where the board went away or
        rebooted under it (the session is LOST then)."""
        opened: list[DeviceSession] = []
        try:
            session = await self.manager.create_session(self.port, on_output=printer)
            opened.append(session)
            try:
                await step(session)
            except BaseException:
                with anyio.CancelScope(shield=True):
                    await self._end(session, failed=True)
                raise
            await self._end(session, failed=False)
        except BelayError as error:
            if isinstance(error, TransportError) or any(s.state is SessionState.LOST for s in opened):
                raise BoardGone(error) from error
            raise

    async def _end(self, session: DeviceSession, *, failed: bool) -> None:
        """End ``session``; threads of its that would not stop are kept in :attr:`stuck` (the
        board is soft-reset before the next run), another failure raised (logged after a
        ``failed`` step, whose error wins)."""
        try:
            await self.manager.end_session(session.session_id)
        except ResourceCleanupError as error:
            self.stuck = stuck_threads(error)
            if self.stuck and len(self.stuck) == len(error.failures):
                logger.info("the run's session on %s ended with threads running: %s", self.port, self.stuck)
            elif failed:
                logger.warning("cleanup after a failed step: %s", error)
            else:
                raise

    async def run(self) -> None:
        """Run the entry in a session of its own until it ends (or the loop cancels it);
        :class:`BoardGone` where the board went away meanwhile."""
        from belay.session.output import StdoutWriter

        source = await anyio.Path(self.local / str(self.entry)).read_text(encoding="utf-8")
        await self._reset_if_needed()

        async def run(session: DeviceSession) -> None:
            try:
                await self._run_in(session, source)
            except DeviceExecError as error:
                if session.state is SessionState.LOST:
                    raise
                sys.stderr.write(error.remote_traceback.rstrip("\n") + "\n")
                at = where(error.remote_traceback, self.local, self.remote)
                self.status.say(f"{self.entry} exited with an error{at}: waiting for changes")

        await self._in_session(StdoutWriter(self.out), run)

    async def _reset_if_needed(self) -> None:
        """On a board without ``sys.modules`` (the micro:bit) a module once imported cannot be
        imported afresh: where one the loop sent may have been, the board is soft-reset."""
        board = self.manager.board(self.port)
        entry = module_names([str(self.entry)])
        names = [name for name in module_names(sorted(self.stale)) if name not in entry]
        if names and board is not None and not board.device.capabilities.has_module_registry:
            await self._soft_reset(f"it cannot import {', '.join(names)} afresh otherwise")

    async def _soft_reset(self, why: str) -> None:
        """Soft-reset the board between runs (no session is open; its files stay): what the
        board held in RAM is gone, threads the entry started with ``_thread`` itself included."""
        board = self.manager.board(self.port)
        if board is None or board.sessions:
            return
        try:
            await board.device.soft_reset()
        except TransportError as error:
            raise BoardGone(error) from error
        self.stale, self.ran, self.stuck = set(), False, []
        self.status.say(f"soft-reset the board: {why}")

    async def reset_at_the_end(self) -> None:
        """Soft-reset the board as the loop ends (``--soft-reset``, or a thread of the last run
        would not stop), if it is still there."""
        board = self.manager.board(self.port)
        if self.ran and board is not None and not board.sessions and not board.device.is_lost:
            try:
                await board.device.soft_reset()
            except BelayError as error:
                logger.info("the board on %s was not soft-reset at the end: %s", self.port, error)

    async def _run_in(self, session: DeviceSession, source: str) -> None:
        if self.stale:
            await session.exec(forget_modules(module_names(sorted(self.stale))))
            self.stale = set()
        self.status.say(f"running {self.entry}")
        self.ran = True
        await session.exec(source, filename=str((self.local / str(self.entry)).resolve()))
        running = await running_threads(session)
        on = f"; {', '.join(running)} running on until the next change" if running else ""
        self.status.say(f"{self.entry} ended{on}: waiting for changes")
        await self.follow(session)

    async def follow(self, session: DeviceSession) -> None:
        """Stream what the run's threads and timers print, until the loop ends the session (at the
        next change): a run's background code lives as long as its session."""
        if not session.capabilities.threads:
            await anyio.sleep_forever()
        while True:
            printed = await session.output()
            if printed:
                self.out.write(printed.encode("utf-8", "surrogateescape"))
                self.out.flush()
            await anyio.sleep(FOLLOW_SECONDS)

    async def wait_for_board(self, gone: BoardGone) -> None:
        """Say the board is away, and ask for it at the same port until it answers; then the
        next sync is a whole one, by the board's hashes."""
        why = "it rebooted" if getattr(gone.error, "rebooted", False) else str(gone.error).splitlines()[0]
        self.status.say(f"the board on {self.port} went away ({why}): waiting for it to come back")
        while True:
            try:
                async with self.manager.session(self.port, on_output=None):
                    break
            except BelayError as error:
                logger.debug("the board on %s is not back yet: %s", self.port, error)
            await anyio.sleep(REOPEN_SECONDS)
        self.folders = None
        self.status.say(f"the board on {self.port} is back: syncing")


async def loop(dev: DevLoop) -> None:
    """Sync, run, and on each change stop the run, sync again and run again, for good."""
    pending: list[str] = []
    while True:
        errors = await anyio.to_thread.run_sync(syntax_errors, dev.local, pending)
        if errors:
            dev.status.say(f"not sent: {'; '.join(errors)}: waiting for changes")
            pending = await dev.changes.next()
            continue
        again = await sync_step(dev, pending)
        pending = await run_until_change(dev) if again is None else again


async def sync_step(dev: DevLoop, pending: list[str]) -> list[str] | None:
    """Sync ``pending``; ``None`` once done, else what the next sync must send: a save arrived
    meanwhile, the board went away and is back, or the sync failed (then after the next save)."""
    garbled = False
    while True:
        try:
            await dev.sync(pending)
            return None
        except SyncRestart:
            pending = sorted({*pending, *dev.changes.take()})
            dev.status.say(f"changed during the sync: {listed(pending)}: starting the sync over")
            return pending
        except BoardGone as gone:
            await dev.wait_for_board(gone)
            return sorted({*pending, *dev.changes.take()})
        except ProtocolError as error:  # stray bytes in an answer: the link is in step again at the next call
            if garbled:
                dev.status.say(f"sync failed: {error}: trying again on the next change")
                return sorted({*pending, *await dev.changes.next()})
            garbled = True
            dev.status.say(f"the board's answer was garbled ({error}): syncing again")
        except BelayError as error:
            dev.status.say(f"sync failed: {error}: trying again on the next change")
            return sorted({*pending, *await dev.changes.next()})


def listed(paths: list[str]) -> str:
    return f"{', '.join(paths[:5])}{' ...' if len(paths) > 5 else ''}"


async def run_until_change(dev: DevLoop) -> list[str]:
    """Run the entry; at the first change, stop it (its session ends) and return what changed.
    A board that goes away meanwhile is waited for, and the entry runs again."""
    gone: list[BoardGone] = []
    async with anyio.create_task_group() as group:

        async def run() -> None:
            try:
                if dev.entry is None:
                    dev.status.say("nothing to run (no main.py; --run FILE names one): waiting for changes")
                    return
                await dev.run()
            except BoardGone as error:
                gone.append(error)
                group.cancel_scope.cancel()
            except BelayError as error:
                dev.status.say(f"the run failed: {error}: waiting for changes")

        group.start_soon(run)
        found = await dev.changes.next()
        group.cancel_scope.cancel()
    if gone:
        await dev.wait_for_board(gone[0])
        return dev.changes.take()
    dev.status.say(f"changed: {listed(found)}: restarting (the old run's session ended)")
    return found
