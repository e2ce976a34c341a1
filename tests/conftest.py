"""Shared fixtures: the anyio backend, the two virtual boards, and a leak check on board processes.

``board`` is parametrised over ``"unix"`` and ``"microbit"``; the micro:bit variant carries
``@pytest.mark.microbit`` and skips, saying what is missing, where QEMU or the firmware is not
installed. ``device`` is one open :class:`~belay.device.Device` shared by a test module (opening
a micro:bit costs ~1.5 s); tests that destroy their board use ``fresh_device`` instead.
"""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import AsyncIterator, Callable, Iterator

import anyio
import pytest
from virtual_boards import served_virtual_board

from belay.device import Device
from belay.errors import PortNotFoundError
from belay.transports.microbit_board import find_qemu_and_firmware
from belay.transports.unix_board import find_micropython

BOARD_PROCESS_NAMES = ("micropython", "qemu-system-arm")


def _missing(finder: object) -> str | None:
    try:
        finder()  # type: ignore[operator]
    except PortNotFoundError as error:
        return str(error)
    return None


MICROBIT_MISSING = _missing(find_qemu_and_firmware)
UNIX_MISSING = _missing(find_micropython)

needs_unix = pytest.mark.skipif(UNIX_MISSING is not None, reason=f"unix board: {UNIX_MISSING}")
needs_microbit = pytest.mark.skipif(
    MICROBIT_MISSING is not None, reason=f"microbit board: {MICROBIT_MISSING}"
)
BOARDS = [
    pytest.param("unix", marks=[needs_unix], id="unix"),
    pytest.param("microbit", marks=[pytest.mark.microbit, needs_microbit], id="microbit"),
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Any test marked ``microbit`` skips, saying why, where QEMU or the firmware is missing."""
    for item in items:
        if item.get_closest_marker("microbit") is not None:
            item.add_marker(needs_microbit)


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session", params=BOARDS)
def board(request: pytest.FixtureRequest) -> str:
    """The name of a virtual board: ``"unix"`` or ``"microbit"``."""
    return str(request.param)


_FORGET_NEW_GLOBALS = """
def _belay_forget(keep):
    g = globals()
    for name in [name for name in g if name not in keep]:
        del g[name]
_belay_forget({keep!r})
__import__('gc').collect()
"""


@pytest.fixture(scope="module")
async def shared_device(board: str) -> AsyncIterator[tuple[Device, set[str]]]:
    """One open device per board and test module, with the globals it started with."""
    async with await Device.open(board) as opened:
        yield opened, set(await opened.eval("list(globals())"))


@pytest.fixture
async def device(shared_device: tuple[Device, set[str]]) -> AsyncIterator[Device]:
    """The module's device, for tests that leave the board usable; the globals a test
    created are deleted after it, so the micro:bit's small heap does not fill up."""
    opened, baseline = shared_device
    yield opened
    if not opened.is_lost:
        with anyio.fail_after(10):
            await opened.exec(_FORGET_NEW_GLOBALS.format(keep=baseline))


@pytest.fixture
async def fresh_device(board: str) -> AsyncIterator[Device]:
    """A device of its own, for tests that kill, reboot or otherwise spend their board."""
    async with await Device.open(board) as opened:
        yield opened


# --- no board process outlives the test run -------------------------------------------


def _stat(pid: int) -> tuple[str, str, int] | None:
    """(name, state, ppid) of ``pid`` from /proc, or ``None`` if it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as handle:
            text = handle.read()
    except OSError:
        return None
    name = text[text.index("(") + 1 : text.rindex(")")]
    state, ppid = text[text.rindex(")") + 2 :].split()[:2]
    return name, state, int(ppid)


def _cmdline(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return [arg.decode(errors="replace") for arg in handle.read().split(b"\0") if arg]
    except OSError:
        return []


def _is_board_process(pid: int, name: str) -> bool:
    names = {name, *(os.path.basename(arg) for arg in _cmdline(pid)[:2])}
    return any(candidate.startswith(BOARD_PROCESS_NAMES) for candidate in names)


def board_processes_of(root: int) -> list[str]:
    """Board processes (alive, or dead and never reaped) descending from ``root``."""
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (info := _stat(int(entry))) is not None:
            table[int(entry)] = info
    found = []
    for pid, (name, state, _ppid) in table.items():
        ancestor, hops = pid, 0
        while ancestor in table and ancestor != root and hops < 64:
            ancestor, hops = table[ancestor][2], hops + 1
        if ancestor == root and pid != root and _is_board_process(pid, name):
            found.append(f"pid {pid} ({name}, state {state}): {' '.join(_cmdline(pid))}")
    return found


@pytest.fixture
def board_processes() -> Callable[[], set[int]]:
    """A probe: the pids of the board processes this test process has started and not reaped."""
    return lambda: {int(line.split()[1]) for line in board_processes_of(os.getpid())}


@pytest.fixture(scope="session", autouse=True)
def state_of_its_own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The suite's journals (every CLI command journals its sessions) go to a folder of the run's,
    not to the user's state folder: ``XDG_STATE_HOME`` for this process and what it starts."""
    saved = os.environ.get("XDG_STATE_HOME")
    os.environ["XDG_STATE_HOME"] = str(tmp_path_factory.mktemp("state"))
    yield
    if saved is None:
        os.environ.pop("XDG_STATE_HOME", None)
    else:
        os.environ["XDG_STATE_HOME"] = saved


@pytest.fixture(scope="session", autouse=True)
def no_board_process_left_behind() -> Iterator[None]:
    """Fail the run loudly if a micropython or qemu-system-arm child outlives the tests."""
    yield
    leaked = board_processes_of(os.getpid())
    for line in leaked:  # end (and reap) them, so a failing run leaves nothing behind either
        pid = int(line.split()[1])
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
    if leaked:
        pytest.fail(
            "board processes still alive (or unreaped) at the end of the test run:\n  " + "\n  ".join(leaked),
            pytrace=False,
        )


@pytest.fixture
def served_board(request: pytest.FixtureRequest) -> Iterator[str]:
    """A virtual board served on a pty by ``belay virtual-board`` in a process of its own, so
    it outlives each connection: the pty's path. ``unix`` unless parametrised indirectly."""
    with served_virtual_board(getattr(request, "param", "unix")) as path:
        yield path
