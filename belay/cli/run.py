"""``belay run FILE [ARGS...]``: a script run as ``__main__`` on a board, its output streamed.

The script runs in a session of its own, ended (so cleaned off the board) when it ends, or with
``--keep`` in the board's REPL namespace. ``sys.argv`` on the board is ``[FILE, *ARGS]`` while
it runs and is put back afterwards. Ctrl-C interrupts the board, ends the session and exits
130; the other exit statuses are ``belay exec``'s.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import math
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from belay.cli.common import EXIT_OK, CliError, add_run_options, note_keep_on_unix, port_for

if TYPE_CHECKING:
    from belay.board_info import Capabilities
    from belay.container import Container

ARGV = "__import__('sys').argv"
"""``sys.argv`` on the board, reached without binding a name in the script's namespace."""
SAVED_ARGV = f"list({ARGV}) if hasattr(__import__('sys'), 'argv') else None"


def read_script(path: str) -> str:
    """The script's text; raises :class:`CliError` when it cannot be read."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise CliError(f"cannot read {path}: {reason}") from error


def set_argv(argv: list[str]) -> str:
    """Statements that make the board's ``sys.argv`` ``argv`` (where the board has one)."""
    return f"try:\n {ARGV}[:] = {argv!r}\nexcept AttributeError:\n pass\n"


def argv_for(args: argparse.Namespace, saved: Any) -> str:
    """Statements that set the script's ``sys.argv``; a note on stderr where the board has none."""
    if saved is None and args.args:
        sys.stderr.write("belay: note: the board has no sys.argv: the script cannot see its ARGS\n")
    return set_argv([args.file, *args.args])


async def run_in_session(container: Container, port: str, script: str, args: argparse.Namespace) -> None:
    """Run the script in a session of its own; its traceback points at the host file."""
    from belay.session.output import StdoutWriter

    manager = container.session_manager()
    options: dict[str, Any] = {} if args.timeout is None else {"call_timeout": args.timeout}
    on_output = StdoutWriter(sys.stdout.buffer)
    filename = os.path.abspath(args.file)  # noqa: ASYNC240 - no I/O: the cwd is known
    async with manager, manager.session(port, on_output=on_output, **options) as session:
        saved = await session.eval(SAVED_ARGV, timeout=10.0)
        await session.exec(argv_for(args, saved), timeout=10.0)
        try:
            for piece in pieces(script, session.capabilities):
                await session.exec(piece, filename=filename)
        finally:
            await _restore(lambda code: session.exec(code, timeout=5.0), saved)


PIECE_MOST = 384
"""Bytes of a script at most in one call on a small board (the call holds them three times
over: as it arrives, as a string constant, and as the parser reads them)."""


def pieces(script: str, capabilities: Capabilities) -> list[str]:
    """The script as the calls that run it: one, or on a small board (the micro:bit) where it
    is longer than a call should carry, its top-level statements in groups of about that size,
    run one after another in the session's namespace (as the whole script would run; one
    statement is never split). Each keeps its lines' numbers (blank lines before it), so a
    traceback names the script's line. A script CPython cannot parse goes whole: the board
    says what is wrong with it."""
    from belay.heap import FIT_CHECK_ABOVE, collects_before_keeping

    if len(script.encode("utf-8")) <= FIT_CHECK_ABOVE or not collects_before_keeping(capabilities):
        return [script]
    try:
        starts = [_first_line(node) for node in ast.parse(script).body]
    except (SyntaxError, ValueError):
        return [script]
    lines = script.splitlines(keepends=True)
    groups: list[tuple[int, int]] = []  # (first, end) line indexes of each piece
    for first, end in zip(starts, [*starts[1:], len(lines) + 1], strict=True):
        if groups and len("".join(lines[groups[-1][0] - 1 : end - 1]).encode()) <= PIECE_MOST:
            groups[-1] = (groups[-1][0], end)
        else:
            groups.append((first if groups else 1, end))
    return ["\n" * (first - 1) + "".join(lines[first - 1 : end - 1]) for first, end in groups]


def _first_line(node: ast.stmt) -> int:
    """Where a top-level statement starts: its first decorator's line, if it has any."""
    decorators: list[ast.expr] = getattr(node, "decorator_list", None) or []
    return min([node.lineno, *(decorator.lineno for decorator in decorators)])


async def run_kept(container: Container, port: str, script: str, args: argparse.Namespace) -> None:
    """Run the script in the board's REPL namespace, outside any session."""
    from belay.session.output import StdoutWriter

    device = await container.device_opener(port)
    async with device:
        saved = await device.eval(SAVED_ARGV, timeout=10.0)
        await device.exec(argv_for(args, saved), timeout=10.0)
        try:
            until = math.inf if args.timeout is None else args.timeout  # the user's code: --timeout or none
            await device.exec(script, timeout=until, on_output=StdoutWriter(sys.stdout.buffer))
        finally:
            await _restore(lambda code: device.exec(code, timeout=5.0), saved)


async def _restore(run: Callable[[str], Any], saved: Any) -> None:
    """Put the board's ``sys.argv`` back, even when the script was interrupted."""
    import anyio

    from belay.errors import BelayError

    with anyio.move_on_after(5.0, shield=True):
        # The board gone or busy: the script's own error is the one to report.
        with contextlib.suppress(BelayError):
            await run(set_argv(list(saved) if isinstance(saved, list) else []))


def cmd_run(args: argparse.Namespace, container: Container) -> int:
    import anyio

    port = port_for(args, container)
    script = read_script(args.file)
    if args.keep:
        note_keep_on_unix(port, sys.stderr)
        anyio.run(run_kept, container, port, script, args)
    else:
        anyio.run(run_in_session, container, port, script, args)
    return EXIT_OK


def add_parser(commands: Any, name: str) -> None:
    """Register ``belay run``."""
    run = commands.add_parser(
        name, help="run a script as __main__ on a board and stream what it prints",
        description="Run FILE as __main__ on the board (sys.argv there is [FILE, *ARGS]), streaming "
        "its output. Ctrl-C interrupts the board and cleans up. Exit status as for exec.",
    )  # fmt: skip
    run.add_argument("file", metavar="FILE", help="the script to run")
    run.add_argument("args", metavar="ARGS", nargs=argparse.REMAINDER, help="the script's sys.argv[1:]")
    add_run_options(run, "the script", "run in the board's REPL namespace and leave its variables there "
                    "(as exec --keep); without it the script runs in a session of its own, removed when "
                    "it ends")  # fmt: skip
    run.set_defaults(handler=cmd_run)
