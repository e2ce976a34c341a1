"""``belay dev [LOCAL] [:REMOTE] [--run FILE]``: the edit-run loop.

Sync LOCAL to the board by the board's hashes (the rules of ``belay sync``), run the entry
(``--run``, default ``main.py`` where there is one) as ``__main__`` in a session of its own,
stream what it prints, and watch LOCAL. On a save: stop the run by ending its session (its
threads, timers and proxies go with it, and the modules the loop sent are imported afresh),
sync what changed, run again. A ``.py`` file that does not parse is reported before anything
is sent. Ctrl-C ends the run and the loop. One ``belay dev:`` line on stderr says each step.
"""

from __future__ import annotations

import argparse
import ast
import os
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from belay.cli.common import EXIT_OK, CliError, add_port_options, port_for

if TYPE_CHECKING:
    from belay.container import Container
    from belay.session.manager import DeviceSessionManager
    from belay.session.session import DeviceSession

DEBOUNCE_MS = 50
"""Saves closer together than this are one change (an editor's write, rename and touch)."""
STEP_MS = 20
"""How long the watcher waits for another change of a burst."""
FOLLOW_SECONDS = 0.1
"""How often a run's session is asked what its background code printed."""


class Status:
    """The loop's ``belay dev:`` lines on stderr."""

    def __init__(self, err: TextIO) -> None:
        self._err = err

    def say(self, text: str) -> None:
        self._err.write(f"belay dev: {text}\n")
        self._err.flush()


def syntax_errors(local: Path, paths: list[str]) -> list[str]:
    """``path:line: message`` for every ``.py`` of ``paths`` (relative to ``local``) that does not parse."""
    found = []
    for path in paths:
        if not path.endswith(".py"):
            continue
        try:
            source = (local / path).read_bytes()
            ast.parse(source, filename=path)
        except SyntaxError as error:
            found.append(f"{path}:{error.lineno}: {error.msg}")
        except OSError:
            continue
    return found


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


async def changes(local: Path, stop: Any) -> AsyncIterator[list[str]]:
    """Relative paths under ``local`` that changed, a burst of saves at a time (the files a sync
    would leave out are not changes)."""
    import watchfiles

    from belay.session.files.ignore import Ignore
    from belay.session.files.local import read_ignore_file

    ignore = Ignore.build(read_ignore_file(local))
    watched = watchfiles.awatch(local, debounce=DEBOUNCE_MS, step=STEP_MS, stop_event=stop, rust_timeout=500)
    async for found in watched:
        paths = sorted({Path(path).relative_to(local).as_posix() for _, path in found})
        kept = [path for path in paths if ignore.why(path, (local / path).is_dir()) is None]
        if kept:
            yield kept


class DevLoop:
    """One ``belay dev`` run: the manager, the folders, the entry, and the status line."""

    def __init__(self, manager: DeviceSessionManager, port: str, local: Path, remote: str,
                 entry: str | None, args: argparse.Namespace, status: Status, out: Any) -> None:  # fmt: skip
        self.manager, self.port, self.local, self.remote = manager, port, local, remote
        self.entry, self.args, self.status, self.out = entry, args, status, out
        self.stale: list[str] = []
        self.folders: set[str] | None = None  # the board folders the last whole sync left, relative to remote

    async def sync(self, changed: list[str]) -> None:
        """Send what changed: the ``changed`` files themselves where each is a file in a folder the
        board has (one put each, no walk), else a whole sync by the board's hashes."""
        started = time.perf_counter()
        async with self.manager.session(self.port, on_output=None) as session:
            direct = await self._put_changed(session, changed)
            if direct is None:
                report = await session.fs.sync(self.local, self.remote, exclude=self.args.exclude,
                                               include=self.args.include, mpy=self.args.mpy)  # fmt: skip
                self.folders = {path.rpartition("/")[0] for path in (*report.uploaded, *report.unchanged)}
                direct = list(report.uploaded)
        self.stale += direct
        took = (time.perf_counter() - started) * 1000
        self.status.say(f"synced {len(direct)} file{'s' if len(direct) != 1 else ''} in {took:.0f} ms")

    async def _put_changed(self, session: DeviceSession, changed: list[str]) -> list[str] | None:
        """The board paths of ``changed`` put one by one; ``None`` where a whole sync is needed
        (a first sync, ``--mpy``, a new folder, a file gone or not a file)."""
        from belay.session.files.paths import join

        board = [join(self.remote, path) for path in changed]
        if not changed or self.args.mpy or self.folders is None:
            return None
        if any(not (self.local / path).is_file() or path.rpartition("/")[0] not in self.folders
               for path in changed):  # fmt: skip
            return None
        for path, target in zip(changed, board, strict=True):
            await session.fs.put(str(self.local / path), target)
        return board

    async def run(self) -> None:
        """Run the entry in a session of its own until it ends (or the loop cancels it)."""
        from belay.errors import DeviceExecError
        from belay.session.output import StdoutWriter

        if self.entry is None:
            self.status.say("nothing to run (no main.py; --run FILE names one): waiting for changes")
            return
        import anyio

        source = await anyio.Path(self.local / self.entry).read_text(encoding="utf-8")
        async with self.manager.session(self.port, on_output=StdoutWriter(self.out)) as session:
            if self.stale:
                await session.exec(forget_modules(module_names(self.stale)))
                self.stale = []
            self.status.say(f"running {self.entry}")
            try:
                await session.exec(source, filename=str((self.local / self.entry).resolve()))
            except DeviceExecError as error:
                sys.stderr.write(error.remote_traceback.rstrip("\n") + "\n")
                where = _where(error.remote_traceback)
                self.status.say(f"{self.entry} exited with an error{where}: waiting for changes")
                return
            self.status.say(f"{self.entry} ended: waiting for changes")
            await self.follow(session)

    async def follow(self, session: DeviceSession) -> None:
        """Stream what the run's threads and timers print, until the loop ends the session (at the
        next change): a run's background code lives as long as its session."""
        import anyio

        if not session.capabilities.threads:
            await anyio.sleep_forever()
        while True:
            printed = await session.output()
            if printed:
                self.out.write(printed.encode("utf-8", "surrogateescape"))
                self.out.flush()
            await anyio.sleep(FOLLOW_SECONDS)


def _where(traceback: str) -> str:
    """`` at FILE:LINE`` of a board traceback's last frame, if it names one."""
    import re

    frames = re.findall(r'File "([^"]+)", line (\d+)', traceback)
    return f" at {frames[-1][0]}:{frames[-1][1]}" if frames else ""


def entry_of(local: Path, args: argparse.Namespace) -> str | None:
    """The file the loop runs: ``--run``, else ``main.py`` where there is one. Raises
    :class:`CliError` for a folder or entry that is not there."""
    if not local.is_dir():
        raise CliError(f"{args.local!r} is not a local folder")
    entry: str | None = args.run or ("main.py" if (local / "main.py").is_file() else None)
    if entry is not None and not (local / entry).is_file():
        raise CliError(f"--run {entry}: no such file in {args.local}")
    return entry


async def dev(container: Container, port: str, args: argparse.Namespace, entry: str | None) -> None:
    """The loop: sync, run, and on each change stop the run, sync again and run again."""
    import anyio

    from belay.errors import BelayError

    local = Path(args.local)
    remote = args.remote[1:] if args.remote.startswith(":") else args.remote
    status = Status(sys.stderr)
    manager = container.session_manager()
    stop = anyio.Event()
    async with manager:
        loop = DevLoop(manager, port, local, remote.lstrip("/"), entry, args, status, sys.stdout.buffer)
        watched = changes(local, stop)
        pending: list[str] = []
        try:
            while True:
                errors = await anyio.to_thread.run_sync(syntax_errors, local, pending)
                if errors:
                    status.say(f"not sent: {'; '.join(errors)}: waiting for changes")
                else:
                    try:
                        await loop.sync(pending)
                    except BelayError as error:
                        status.say(f"sync failed: {error}: trying again on the next change")
                    else:
                        pending = await _run_until_change(loop, watched, status)
                        continue
                pending = await watched.__anext__()
        finally:
            stop.set()


async def _run_until_change(loop: DevLoop, watched: AsyncIterator[list[str]], status: Status) -> list[str]:
    """Run the entry; at the first change, stop it (its session ends) and return what changed."""
    import anyio

    from belay.errors import BelayError

    found: list[str] = []
    async with anyio.create_task_group() as group:

        async def run() -> None:
            try:
                await loop.run()
            except BelayError as error:
                status.say(f"the run failed: {error}: waiting for changes")

        group.start_soon(run)
        found = await watched.__anext__()
        group.cancel_scope.cancel()
    status.say(f"changed: {', '.join(found[:5])}{' ...' if len(found) > 5 else ''}: restarting")
    return found


def cmd_dev(args: argparse.Namespace, container: Container) -> int:
    import anyio

    entry = entry_of(Path(args.local), args)
    port = port_for(args, container)
    try:
        anyio.run(dev, container, port, args, entry)
    except KeyboardInterrupt:
        sys.stderr.write("belay dev: stopped\n")
    return EXIT_OK


def add_parser(commands: Any, name: str) -> None:
    """Register ``belay dev``."""
    parser = commands.add_parser(name, help="the edit-run loop: sync a folder, run its main.py, and on every "
                                 "save end the run (nothing of it left) and run the new code")  # fmt: skip
    parser.add_argument("local", nargs="?", default=os.curdir, help="local folder (default: this one)")
    parser.add_argument("remote", nargs="?", default=":", help="board folder (default ':', the root)")
    parser.add_argument("--run", metavar="FILE", help="the entry to run, relative to LOCAL (default main.py)")
    parser.add_argument("--exclude", action="append", default=[], metavar="GLOB", help="leave out matching "
                        "paths (repeatable), as for sync")  # fmt: skip
    parser.add_argument("--include", action="append", default=[], metavar="GLOB", help="send matching paths "
                        "even where left out by default (repeatable), as for sync")  # fmt: skip
    parser.add_argument("--mpy", action="store_true", help="send modules compiled with mpy-cross")
    add_port_options(parser)
    parser.set_defaults(handler=cmd_dev)
