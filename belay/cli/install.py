"""``belay install PACKAGE[@VERSION]``: a MicroPython package onto a board, by mpremote's ``mip``.

mpremote's own installer (:mod:`mpremote.mip`) resolves the package in the index (its
``package.json``, its dependencies, the ``.mpy`` build for the board's bytecode version or the
``.py`` sources with ``--no-mpy``) and downloads the files on the host. belay runs it in two
steps: a plan (:mod:`belay.cli.install_plan`: every file the package brings is downloaded and
checked, nothing written), then the writes, through a belay session (``session.fs``, so they
stay after the session). A package that names a path outside its target, belay's own files or
a startup file is refused before anything is written. The board needs no network: only the
host has to reach the index.
"""

from __future__ import annotations

import argparse
import socket
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from belay.cli.common import EXIT_OK, CliError, add_port_options, port_for
from belay.cli.install_plan import MipOutput, PlannedFile, PlanningBoard, Refused, guard_mip
from belay.errors import BelayError, DeviceExecError, DeviceValueError

if TYPE_CHECKING:
    from belay.container import Container
    from belay.session.session import DeviceSession

DEFAULT_INDEX = "https://micropython.org/pi/v2"
"""mpremote's default package index."""
INDEX_TIMEOUT = 30.0
"""Seconds a package index may stay silent (connecting, or between bytes) before install fails."""
Say = Callable[[str], None]


async def default_target(session: DeviceSession) -> str:
    """Where mip installs by default: the first ``.../lib`` folder on the board's ``sys.path``
    (not under ``/rom``); ``.`` on a board without ``sys.path`` (the micro:bit, which imports
    from its one folder). Raises :class:`CliError` where ``sys.path`` has no lib folder."""
    paths = await session.eval("getattr(__import__('sys'), 'path', None)")
    if paths is None:
        return "."
    libs = [p for p in paths if isinstance(p, str) and p.endswith("/lib") and not p.startswith("/rom")]
    if not libs:
        raise CliError(f"no lib folder on the board's sys.path ({paths!r:.200}): choose one with --target")
    return libs[0]


class _State:
    """The part of mpremote's command state that ``mip`` uses."""

    def __init__(self, board: PlanningBoard) -> None:
        self.transport = board

    def did_action(self) -> None:
        pass

    def ensure_raw_repl(self) -> None:
        pass


async def install(session: DeviceSession, package: str, *, index: str | None = None,
                  target: str | None = None, mpy: bool = True, allow_boot_files: bool = False,
                  say: Say | None = None) -> list[str]:  # fmt: skip
    """Install ``package`` (``name``, ``name@version``, a URL or ``github:org/repo``) from
    ``index`` (default: micropython.org's) into ``target`` on the board (default: the
    ``.../lib`` folder on its ``sys.path``, see :func:`default_target`); return the board
    paths written. ``say`` is told each file written, each already there, and the end.

    Raises :class:`CliError` when the index cannot be reached, the package is not in it, or
    a file it brings would land outside ``target``, on belay's own files or (unless
    ``allow_boot_files``) on ``boot.py``/``main.py``: then nothing was written. A write that
    fails (a full filesystem) says what was written before it.
    """
    name, _, version = package.partition("@")
    if not name.strip() or "@" in version:
        raise CliError(f"{package!r} is not a package: give NAME, NAME@VERSION, a URL or github:ORG/REPO")
    if target is None:
        target = await default_target(session)
    plan = PlanningBoard(session, target, allow_startup=allow_boot_files, package=package)
    nothing = f"nothing was written to the board at {session.port}"
    try:
        await _plan(plan, package, index, mpy)
    except Refused as error:
        raise CliError(f"refused to install {package}: {error}; {nothing}") from None
    except CliError as error:
        raise CliError(f"{error}; {nothing}") from error.__cause__
    tell = say or (lambda line: None)
    tell(f"Install {package} into {target}")
    for path in plan.exists:
        tell(f"Exists: {path}")
    written = await _write(session, package, plan.files, tell)
    tell(f"Done: {len(written)} file(s) written, {len(plan.exists)} already there")
    return written


async def _plan(plan: PlanningBoard, package: str, index: str | None, mpy: bool) -> None:
    """Run mip against ``plan`` (which writes nothing); its failures as :class:`CliError`."""
    import contextlib

    import anyio.to_thread
    from mpremote.commands import CommandError
    from mpremote.mip import do_mip

    args = argparse.Namespace(
        command=["install"], packages=[package], index=index, target=plan.target, mpy=mpy
    )

    guard_mip()

    def run() -> None:
        # mip gives urllib no timeout: a server that accepts and never answers would hang it.
        silent = socket.getdefaulttimeout()
        socket.setdefaulttimeout(INDEX_TIMEOUT if silent is None else silent)
        try:
            with contextlib.redirect_stdout(MipOutput(plan)):
                do_mip(_State(plan), args)
        finally:
            socket.setdefaulttimeout(silent)

    try:
        await anyio.to_thread.run_sync(run)
    except CommandError as error:
        raise _explained(error, package, index or DEFAULT_INDEX) from error
    except (DeviceExecError, DeviceValueError) as error:  # reading a file there failed (a folder)
        raise CliError(f"cannot install {package}: {error}") from None
    except TimeoutError:
        raise CliError(
            f"cannot install {package}: the package index {index or DEFAULT_INDEX} (or a URL it "
            f"named) sent nothing for {INDEX_TIMEOUT:g} s"
        ) from None


async def _write(session: DeviceSession, package: str, files: list[PlannedFile], say: Say) -> list[str]:
    """Write the planned ``files``: their folders first (so a board that cannot make them, the
    micro:bit's flat filesystem, refuses before any file is written), then the files, small
    ones many to a call (``session.fs.put_many``), each whole or not at all."""
    folders = dict.fromkeys(file.path.rpartition("/")[0] for file in files)
    for folder in folders:
        if folder not in ("", "/"):
            await session.fs.mkdir(folder, parents=True, exist_ok=True, allow_outside=True)
    written: list[str] = []

    def sent(_path: str, _size: int) -> None:  # in order: the next planned file is the one written
        written.append(files[len(written)].path)
        say(f"Installing: {written[-1]}")

    try:
        await session.fs.put_many([(file.data, file.path) for file in files], allow_outside=True, sent=sent)
    except (BelayError, OSError) as error:
        file = files[len(written)]
        done = f"written before it: {', '.join(written)}" if written else "nothing was written before it"
        stopped = f"installing {package} stopped at {file.path} ({file.package})"
        raise CliError(f"{stopped}: {error}; {done}") from None
    return written


def _explained(error: Exception, package: str, index: str) -> CliError:
    """mip's ``CommandError`` said in one line: which host could not be reached (the index, or
    the package's own URL), or why the package is not there. Nothing was written: mip planned."""
    import urllib.error

    cause = error.__context__
    text = str(error).strip()
    if isinstance(cause, urllib.error.URLError) and not isinstance(cause, urllib.error.HTTPError):
        url = text.rpartition(" requesting ")[2]
        where = f"the package index {index}" if url.startswith(index) else url
        return CliError(
            f"cannot reach {where}: {cause.reason} (the host downloads the package, then copies it "
            f"to the board: check the host's network{' or --index' if url.startswith(index) else ''})"
        )
    return CliError(f"cannot install {package}: {text}")


def cmd_install(args: argparse.Namespace, container: Container) -> int:
    import anyio

    port = port_for(args, container)

    def say(line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    async def main() -> list[str]:
        manager = container.session_manager()
        async with manager, manager.session(port, on_output=None) as session:
            return await install(session, args.package, index=args.index, target=args.target, mpy=args.mpy,
                                 allow_boot_files=args.allow_boot_files, say=say)  # fmt: skip

    anyio.run(main)
    return EXIT_OK


def add_parser(commands: Any, name: str) -> None:
    """Register ``belay install``."""
    parser = commands.add_parser(
        name, help="install a MicroPython package onto a board (mpremote's mip)",
        description="Install PACKAGE (a name in the index, NAME@VERSION, an http(s) URL or "
        "github:ORG/REPO[/PATH]) and its dependencies onto the board, as `mpremote mip install` "
        "does. The host downloads the files; the board needs no network.",
    )  # fmt: skip
    parser.add_argument("package", metavar="PACKAGE[@VERSION]", help="what to install")
    add_port_options(parser)
    parser.add_argument("--index", help=f"the package index (default {DEFAULT_INDEX})")
    parser.add_argument("--target", help="the board folder to install into (default: the lib "
                        "folder on the board's sys.path)")  # fmt: skip
    parser.add_argument("--no-mpy", dest="mpy", action="store_false",
                        help="install .py sources, not .mpy files built for the board")  # fmt: skip
    parser.add_argument(
        "--allow-boot-files", action="store_true",
        help="let the package write boot.py or main.py at the board's root (refused by default: "
        "the board runs them at every boot); a path outside the target, or belay's own files, "
        "are always refused",
    )  # fmt: skip
    parser.set_defaults(handler=cmd_install)
