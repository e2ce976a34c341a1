"""``belay dev [LOCAL] [:REMOTE] [--run FILE]``: the edit-run loop.

Sync LOCAL to the board by the board's hashes (the rules of ``belay sync``), run the entry
(``--run``, default ``main.py`` where there is one) as ``__main__`` in a session of its own,
stream what it prints, and watch LOCAL. On a save: stop the run by ending its session (its
threads, timers and proxies go with it, and the modules the loop sent are imported afresh),
sync what changed, run again. A ``.py`` file that does not parse is reported before anything
is sent. A save during a sync starts the sync over (at a file's end: never half a file on
the board); a board that resets or goes away is waited for at its port, then synced and run
again. Ctrl-C ends the run and the loop, and leaves the board at its friendly REPL. One
``belay dev:`` line on stderr says each step (:mod:`belay.cli.dev_loop`; the watcher:
:mod:`belay.cli.dev_watch`).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from belay.cli.common import EXIT_OK, CliError, add_port_options, port_for

if TYPE_CHECKING:
    from belay.container import Container


FINAL_RESET_SECONDS = 15.0
"""How long the soft reset that ends ``belay dev --soft-reset`` may take (the board may be gone)."""


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
    """The loop (:func:`belay.cli.dev_loop.loop`), with the folder watched from start to end."""
    import anyio

    from belay.cli.dev_loop import DevLoop, Status, loop

    local = Path(args.local)
    remote = args.remote[1:] if args.remote.startswith(":") else args.remote
    manager = container.session_manager()
    stop = anyio.Event()
    async with manager:
        steps = DevLoop(
            manager, port, local, remote.strip("/"), entry, args, Status(sys.stderr), sys.stdout.buffer
        )
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(steps.changes.watch, stop)
                await loop(steps)
        finally:
            stop.set()
            if args.soft_reset or steps.stuck:  # the last run's threads end too
                with anyio.CancelScope(shield=True), anyio.move_on_after(FINAL_RESET_SECONDS):
                    await steps.reset_at_the_end()


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
    parser.add_argument("--soft-reset", action="store_true", help="soft-reset the board before each "
                        "run and at the end (without it, only where a thread of the old run would not "
                        "stop)")  # fmt: skip
    add_port_options(parser)
    parser.set_defaults(handler=cmd_dev)
