"""``belay install PACKAGE[@VERSION]``: a MicroPython package onto a board, by mpremote's ``mip``.

mpremote's own installer (:mod:`mpremote.mip`) resolves the package in the index (its
``package.json``, its dependencies, the ``.mpy`` build for the board's bytecode version or the
``.py`` sources with ``--no-mpy``) and downloads the files on the host; belay gives it a
board to write to: :class:`SessionBoard`, the part of mpremote's transport that ``mip`` uses,
over a belay session (its files written with ``session.fs``, so they stay after the session).
The board needs no network: only the host has to reach the index.
"""

from __future__ import annotations

import argparse
import hashlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from belay.cli.common import EXIT_OK, CliError, add_port_options, port_for

if TYPE_CHECKING:
    from belay.container import Container
    from belay.session.session import DeviceSession

DEFAULT_INDEX = "https://micropython.org/pi/v2"
"""mpremote's default package index."""


class SessionBoard:
    """What :mod:`mpremote.mip` calls on its transport, done through a belay session.

    Its methods are blocking: ``mip`` runs in a worker thread and each call is run on the
    event loop (:func:`anyio.from_thread.run`).
    """

    def __init__(self, session: DeviceSession) -> None:
        self.session = session
        self.written: list[str] = []

    def _run(self, function: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> Any:
        import anyio.from_thread

        async def call() -> Any:
            return await function(*args, **kwargs)

        return anyio.from_thread.run(call)

    def exec(self, code: str) -> None:
        self._run(self.session.exec, code)

    def eval(self, expression: str) -> Any:
        return self._run(self.session.eval, expression)

    def fs_exists(self, path: str) -> bool:
        if _on_board(path) == "":
            return True  # the current folder (a target of "."), there on every board
        try:
            self._run(self.session.fs.stat, _on_board(path), allow_outside=True)
        except FileNotFoundError:  # RemoteFileNotFoundError is one
            return False
        return True

    def fs_mkdir(self, path: str) -> None:
        self._run(self.session.fs.mkdir, _on_board(path), exist_ok=True, allow_outside=True)

    def fs_hashfile(self, path: str, algorithm: str) -> bytes:
        """The file's digest: the board's, or where it hashes otherwise (no ``hashlib``, as on
        the micro:bit), the host's of the file read back, cheaper than a download and a write."""
        kind, _, digest = self._run(self.session.fs.hash, _on_board(path), allow_outside=True).partition(":")
        if kind == algorithm:
            return bytes.fromhex(digest)
        data = self._run(self.session.fs.get, _on_board(path), allow_outside=True)
        return hashlib.new(algorithm, data).digest()

    def fs_writefile(self, path: str, data: bytes, progress_callback: Any = None) -> None:
        self._run(self.session.fs.put, bytes(data), _on_board(path), allow_outside=True)
        self.written.append(_on_board(path))


def _on_board(path: str) -> str:
    """``path`` without leading ``./`` (mip joins a target of ``.`` as ``./name``)."""
    while path.startswith("./"):
        path = path[2:]
    return "" if path == "." else path


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

    def __init__(self, board: SessionBoard) -> None:
        self.transport = board

    def did_action(self) -> None:
        pass

    def ensure_raw_repl(self) -> None:
        pass


async def install(session: DeviceSession, package: str, *, index: str | None = None,
                  target: str | None = None, mpy: bool = True) -> list[str]:  # fmt: skip
    """Install ``package`` (``name``, ``name@version``, a URL or ``github:org/repo``) from
    ``index`` (default: micropython.org's) into ``target`` on the board (default: the
    ``.../lib`` folder on its ``sys.path``, see :func:`default_target`); return the board
    paths written.

    Raises :class:`CliError` when the index cannot be reached, the package is not in it, or
    the board has no lib folder (files written before the failure stay).
    """
    import anyio.to_thread
    from mpremote.commands import CommandError
    from mpremote.mip import do_mip

    board = SessionBoard(session)
    if target is None:
        target = await default_target(session)
    args = argparse.Namespace(command=["install"], packages=[package], index=index, target=target, mpy=mpy)
    try:
        await anyio.to_thread.run_sync(do_mip, _State(board), args)
    except CommandError as error:
        raise _explained(error, index or DEFAULT_INDEX, board.written) from error
    return board.written


def _explained(error: Exception, index: str, written: list[str]) -> CliError:
    import urllib.error

    cause = error.__context__
    partly = f" ({len(written)} files were written: it may be partly installed)" if written else ""
    if isinstance(cause, urllib.error.URLError) and not isinstance(cause, urllib.error.HTTPError):
        return CliError(
            f"cannot reach the package index {index}: {cause.reason} (the host downloads the "
            f"package, then copies it to the board: check the host's network or --index){partly}"
        )
    return CliError(f"install failed: {str(error).strip()}{partly}")


def cmd_install(args: argparse.Namespace, container: Container) -> int:
    import anyio

    port = port_for(args, container)

    async def main() -> list[str]:
        manager = container.session_manager()
        async with manager, manager.session(port, on_output=None) as session:
            return await install(session, args.package, index=args.index, target=args.target, mpy=args.mpy)

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
    parser.set_defaults(handler=cmd_install)
