"""``belay sync``: make a board folder hold what a local folder holds (only changes are sent).

What no board wants is left out (version control, virtual environments, caches, editor
files: ``docs/files.md``), as is what the folder's ``.belayignore`` (gitignore syntax) and
``--exclude`` name; ``--include`` takes any of it back. ``--json`` lists what was skipped and
why; symlinks to folders, dangling symlinks, symlink loops, FIFOs, sockets and devices are
skipped with a warning naming each.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from belay.cli.common import EXIT_OK, add_port_options
from belay.cli.fs_common import board_path, handler, print_json, summary, sync_with_progress

if TYPE_CHECKING:
    from belay.session.session import DeviceSession


async def do_sync(args: argparse.Namespace, session: DeviceSession) -> int:
    remote = board_path(args.remote)
    local = Path(args.local)
    report = await sync_with_progress(args, session, local, remote, delete=args.delete, dry_run=args.dry_run)
    if args.json:
        print_json({"port": session.port, **report.as_dict()})
    else:
        summary(report, sys.stdout)
    return EXIT_OK


def add_parser(commands: Any, name: str) -> None:
    """Register ``belay sync`` on the ``belay`` command's subparsers."""
    sync = commands.add_parser(
        "sync", help="make a board folder hold what a local folder holds (only changes are sent)"
    )
    sync.add_argument("local", help="local folder")
    sync.add_argument("remote", nargs="?", default=":", help="board folder (default ':', the root; ':/' too)")
    sync.add_argument(
        "--delete", action="store_true", help="remove board files that are not in the local folder"
    )
    sync.add_argument("--dry-run", action="store_true", help="say what would change, change nothing")
    add_filter_options(sync)
    sync.add_argument("--mpy", action="store_true", help="send modules compiled with mpy-cross for the "
                      "board's .mpy version (main.py and boot.py stay source)")  # fmt: skip
    sync.add_argument("--json", action="store_true", help="print the report as JSON (with what was skipped)")
    add_port_options(sync)
    sync.set_defaults(handler=handler(do_sync))


def add_filter_options(parser: argparse.ArgumentParser) -> None:
    """``--exclude`` and ``--include``: what ``sync`` and ``fs cp -r`` take."""
    parser.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                        help="leave out matching paths or names (repeatable)")  # fmt: skip
    parser.add_argument("--include", action="append", default=[], metavar="GLOB",
                        help="send matching paths or names even where left out by default, by "
                        ".belayignore or --exclude (repeatable)")  # fmt: skip
