"""What ``belay install`` would write, found before anything is written.

mpremote's ``mip`` resolves a package (its ``package.json``, its dependencies) and joins
``target + "/" + path`` with each path an index gives: a hostile or broken index could name
``../../x.py``, or belay's agent, or ``main.py``. So ``mip`` first runs against a
:class:`PlanningBoard`, which reads the board (its bytecode version, the hashes of files
already there) but writes nothing: every file it would write is checked (inside the target,
not belay's, not a startup file unless allowed) and kept, with the package that brings it.
Only a plan that passes every check is written, by :func:`belay.cli.install.install`.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from belay.agent.names import is_agent_file
from belay.errors import DeviceValueError
from belay.session.files.paths import check_path, join

if TYPE_CHECKING:
    from belay.session.session import DeviceSession

STARTUP_FILES = ("boot.py", "main.py")
"""Files a board runs at every boot: a package may write them only when the user allows it."""
ROOT_FOLDERS = ("", "flash", "sd")
"""The folders startup files run from: the filesystem's root (``/flash``, ``/sd`` on some ports)."""


class Refused(Exception):
    """A file a package brings that ``belay install`` will not write (nothing was written)."""


@dataclass(frozen=True)
class PlannedFile:
    """A file to write: its board ``path``, its ``data`` and the ``package`` that brings it."""

    path: str
    data: bytes
    package: str


def on_board(path: str) -> str:
    """``path`` without leading ``./`` (mip joins a target of ``.`` as ``./name``)."""
    while path.startswith("./"):
        path = path[2:]
    return "" if path == "." else path


class PlanningBoard:
    """What :mod:`mpremote.mip` calls on its transport, reading through a belay session and
    writing nothing: :attr:`files` is what it would write, :attr:`exists` what is there already.

    Its methods are blocking: ``mip`` runs in a worker thread and each call is run on the
    event loop (:func:`anyio.from_thread.run`).
    """

    def __init__(self, session: DeviceSession, target: str, *, allow_startup: bool = False,
                 package: str = "?") -> None:  # fmt: skip
        self.session = session
        self.top = package.partition("@")[0]
        """The package the user asked for (a dependency is any other)."""
        self.target = target
        self.allow_startup = allow_startup
        self.package = "?"
        """The package mip is installing now (set from what it prints, see :class:`MipOutput`)."""
        self.files: list[PlannedFile] = []
        self.exists: list[str] = []
        self.seen: set[str] = set()
        """The packages (with version, index, target) planned already."""

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
        return True  # only asked for the folders of a file about to be written: made later

    def fs_mkdir(self, path: str) -> None:
        pass

    def fs_hashfile(self, path: str, algorithm: str) -> bytes:
        """The digest of the file already at ``path``: the board's, or where it hashes otherwise
        (no ``hashlib``, as on the micro:bit), the host's of the file read back."""
        board = self.check(path)
        kind, _, digest = self._run(self.session.fs.hash, board, allow_outside=True).partition(":")
        if kind == algorithm:
            return bytes.fromhex(digest)
        data = self._run(self.session.fs.get, board, allow_outside=True)
        return hashlib.new(algorithm, data).digest()

    def fs_writefile(self, path: str, data: bytes, progress_callback: Any = None) -> None:
        self.files.append(PlannedFile(self.check(path), bytes(data), self.package))

    def check(self, path: str) -> str:
        """The board path mip's ``path`` (``target + "/" + what the index says``) names;
        raises :class:`Refused` for one outside the target, belay's own or a startup file."""
        given = path.removeprefix(self.target + "/") if path.startswith(self.target + "/") else path
        try:
            inside = check_path(given) if given != path else None
        except DeviceValueError:
            inside = None
        if inside is None:
            outside = f"a path outside the target folder {self.target!r}"
            raise Refused(f"{self.package} brings {given!r}, {outside}")
        board = on_board(join(self.target, inside))
        folder, _, name = board.rpartition("/")
        if is_agent_file(name):
            raise Refused(f"{self.package} brings {given!r}, which would overwrite belay's own file {name}")
        if name in STARTUP_FILES and folder.strip("/") in ROOT_FOLDERS and not self.allow_startup:
            raise Refused(
                f"{self.package} brings {board!r}, which the board runs at every boot "
                "(pass --allow-boot-files to let it)"
            )
        return board


URL_PREFIXES = ("http://", "https://", "github:", "gitlab:", "codeberg:")
"""How a package mip fetches (rather than opens on the host) starts."""


def on_host(package: str) -> bool:
    """Whether mip would open ``package`` as a file on the host (a ``.json`` path, not a URL)."""
    return package.endswith(".json") and not package.startswith(URL_PREFIXES)


def guard_mip() -> None:
    """Make mip refuse a dependency that names a file on the host, where the package the user
    asked for does not: an index must not make the host read its own files (a ``package.json``
    whose relative ``urls`` are then opened on the host and copied to the board); and plan
    each package once, so that dependencies in a cycle (a needs b needs a) do not recurse until
    Python's stack runs out. Done once, by wrapping mip's ``_install_package``: it installs the
    package the user named and each dependency, and the board it is given says which is which."""
    from mpremote import mip

    original: Any = getattr(mip, "_install_package", None)
    if original is None or getattr(original, "belay_guarded", False):
        return

    def guarded(transport: Any, package: str, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(transport, PlanningBoard):
            return original(transport, package, *args, **kwargs)
        if package != transport.top and on_host(package) and not on_host(transport.top):
            raise Refused(f"{transport.package} depends on {package!r}, a file on this host")
        key = _planned_key(package, args, kwargs)
        if key in transport.seen:  # a dependency met again: a diamond, or a cycle mip would loop on
            return None
        transport.seen.add(key)
        return original(transport, package, *args, **kwargs)

    guarded.belay_guarded = True  # type: ignore[attr-defined]
    mip._install_package = guarded


def _planned_key(package: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """What makes a package the same one again: its name and mip's other arguments (index,
    target, version, mpy), a version of ``None`` being mip's ``latest``."""
    given = list(args)
    if len(given) > 2 and not given[2]:
        given[2] = "latest"
    return repr((package, given, sorted(kwargs.items())))


class MipOutput(io.TextIOBase):
    """Where mip's ``print`` goes while it plans: read for the package being installed and the
    files already there, not shown (the command says what it did itself)."""

    def __init__(self, board: PlanningBoard) -> None:
        self.board = board
        self._line = ""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        self._line += text
        while "\n" in self._line:
            line, _, self._line = self._line.partition("\n")
            self._read(line)
        return len(text)

    def _read(self, line: str) -> None:
        if line.startswith(("Installing ", "Downloading ")):  # not "Installing: <file>"
            self.board.package = line.split(" ")[1].removesuffix("/package.json")
        elif line.startswith("Exists: "):
            self.board.exists.append(on_board(line.removeprefix("Exists: ")))


__all__ = ["MipOutput", "PlannedFile", "PlanningBoard", "Refused", "guard_mip", "on_board", "on_host"]
