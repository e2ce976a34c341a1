"""What ``belay dev`` watches: the local folder's saves, gathered for the whole loop, and the
check a saved ``.py`` passes before anything is sent.

The watcher runs from the loop's start to its end, so a save is seen whatever the loop is
doing: during a run it restarts the run, during a sync it restarts the sync, and while the
board is away it waits to be sent. Saves arriving before the loop takes them are one union.
"""

from __future__ import annotations

import ast
from collections.abc import AsyncIterator, Iterable
from pathlib import Path
from typing import Any

import anyio

DEBOUNCE_MS = 50
"""Saves closer together than this are one change (an editor's write, rename and touch)."""
STEP_MS = 20
"""How long the watcher waits for another change of a burst."""
ADDED = 1
"""``watchfiles.Change.added``: a file made (and perhaps removed again) within one burst."""


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


def kept_paths(local: Path, found: set[tuple[int, str]], ignore: Any) -> list[str]:
    """The relative paths of a burst of changes that a sync would send: not left out, and not
    an editor's temporary file (made and removed within the burst), nor in a folder left out."""
    added = {path for change, path in found if change == ADDED}
    kept = set()
    for _, path in found:
        relative = Path(path).relative_to(local).as_posix()
        here = Path(path).exists()
        if (here or path not in added) and ignore.why_on_board(relative, Path(path).is_dir()) is None:
            kept.add(relative)
    return sorted(kept)


async def changes(local: Path, stop: anyio.Event, exclude: Iterable[str] = (),
                  include: Iterable[str] = ()) -> AsyncIterator[list[str]]:  # fmt: skip
    """Relative paths under ``local`` that changed, a burst of saves at a time (the files a sync
    would leave out, by the same rules, are not changes)."""
    import watchfiles

    from belay.session.files.ignore import Ignore
    from belay.session.files.local import read_ignore_file

    ignore = Ignore.build(read_ignore_file(local), exclude, include)
    watched = watchfiles.awatch(local, debounce=DEBOUNCE_MS, step=STEP_MS, stop_event=stop, rust_timeout=500)
    async for found in watched:
        kept = kept_paths(local, {(int(change), path) for change, path in found}, ignore)
        if kept:
            yield kept


class Changes:
    """The saves not yet taken by the loop, gathered by :meth:`watch` for the loop's whole life."""

    def __init__(self, local: Path, exclude: Iterable[str] = (), include: Iterable[str] = ()) -> None:
        # Absolute, as the watcher reports paths whatever it was given ("." too).
        self.local, self.exclude, self.include = local.resolve(), tuple(exclude), tuple(include)
        self.pending: set[str] = set()
        self._arrived = anyio.Event()

    async def watch(self, stop: anyio.Event) -> None:
        async for kept in changes(self.local, stop, self.exclude, self.include):
            self.pending.update(kept)
            arrived, self._arrived = self._arrived, anyio.Event()
            arrived.set()

    def take(self) -> list[str]:
        """What changed since the last take (perhaps nothing)."""
        taken = sorted(self.pending)
        self.pending.clear()
        return taken

    async def next(self) -> list[str]:
        """What changed, once something has."""
        while not self.pending:
            await self._arrived.wait()
        return self.take()
