"""belay's pytest plugin: hardware-in-the-loop tests that run on a real board or a virtual one.

Installing belay enables it (the ``pytest11`` entry point). The same test file runs on
``--belay-port /dev/ttyACM0``, ``--belay-port unix`` or ``--belay-port microbit``::

    import pytest

    @pytest.mark.anyio
    async def test_add(belay_session):
        @belay_session.task
        def add(a, b):
            return a + b
        assert await add(1, 2) == 3

    @pytest.mark.belay_requires("threads")
    def test_blink(belay_sync_session):
        ...

Options: ``--belay-port`` (repeatable; else ``BELAY_PORT``, else the ``belay_port`` ini key, else
``unix``), ``--belay-leak-check`` / ``--no-belay-leak-check`` (ini ``belay_leak_check``, on by
default), ``--belay-heap-margin BYTES``. Fixtures: ``belay_container``, ``belay_port`` and
``belay_manager`` (one per test session), ``belay_session`` (a fresh
:class:`~belay.DeviceSession` per test, for anyio's ``@pytest.mark.anyio`` tests),
``belay_sync_session`` (the same for plain ``def`` tests, which then run in a worker thread
while the event loop runs; its calls work in the test's body, not in a plain fixture: use
``belay_session`` in an async fixture), ``belay_device_info``. The parts live in
:mod:`belay.testing`.

A test that fails on a :class:`~belay.BelayError` is reported without belay's own frames (nor
those of the async machinery under them): the test's frame, then the error, whose text holds
the board's traceback. ``--fulltrace`` shows every frame.
"""

from __future__ import annotations

import inspect
import os
import sys
from collections.abc import AsyncIterator, Generator
from types import TracebackType
from typing import Any

import pytest
from anyio.from_thread import BlockingPortal

from belay.board_info import DeviceInfo
from belay.config import ConfigError
from belay.container import Container, from_config, resolve_alias
from belay.errors import BelayError
from belay.options import SessionOptions
from belay.session.board import Board
from belay.session.manager import DeviceSessionManager
from belay.session.session import DeviceSession
from belay.testing import backend, identity, lab, ports
from belay.testing.blocking_session import SyncSession, in_worker_thread
from belay.testing.leaks import LeakCheck, LeakReport, open_board
from belay.transports.port_names import is_lab_port

PLAN = pytest.StashKey[ports.PortPlan]()
LAB = pytest.StashKey["tuple[list[str], SessionOptions] | None"]()
"""In the controller: each process's port and the options, where a port is a labgrid place."""
BOARD_FIXTURES = ("belay_session", "belay_sync_session", "belay_device_info")


# --- options and configuration ---------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("belay", "belay: hardware-in-the-loop tests on MicroPython boards")
    group.addoption(
        "--belay-port", action="append", dest="belay_port", metavar="PORT",
        help="board to test: a serial port, a pyserial URL (rfc2217://host:port), 'unix' or 'microbit'; "
        f"repeat it to give each pytest-xdist worker a board (default: ${ports.ENV_VAR}, else the "
        "belay_port ini key, else unix)",
    )  # fmt: skip
    group.addoption(
        "--belay-leak-check", action="store_true", dest="belay_leak_check", default=None,
        help="fail a test that leaves anything of its session on the board (default)",
    )  # fmt: skip
    group.addoption(
        "--no-belay-leak-check", action="store_false", dest="belay_leak_check", default=None,
        help="do not check what tests leave on the board",
    )  # fmt: skip
    group.addoption(
        "--belay-heap-margin", type=int, dest="belay_heap_margin", metavar="BYTES",
        help="free heap a test may lose before it counts as a leak (default: per board)",
    )  # fmt: skip
    # pytest 9 also takes type objects there, and mypy 1.20 reads a bare "args" as a string type form
    args: Any = "args"
    boolean: Any = "bool"
    parser.addini("belay_port", "boards to test, like --belay-port", type=args, default=[])
    parser.addini("belay_leak_check", "check what tests leave on the board", type=boolean, default=True)


def _worker_id(config: pytest.Config) -> str | None:
    workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
    return None if workerinput is None else str(workerinput["workerid"])


def _worker_count(config: pytest.Config) -> int:
    workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
    if workerinput is not None:
        return int(workerinput["workercount"])
    if config.getoption("dist", "no") == "no":
        return 0
    return len(config.getoption("tx", None) or [])


def _leak_check(config: pytest.Config) -> bool:
    option = config.getoption("belay_leak_check")
    return bool(config.getini("belay_leak_check") if option is None else option)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{identity.REQUIRES_MARKER}(*capabilities): skip unless the board has them "
        "(threads, timer, schedule, filesystem, raw_paste, native, viper)",
    )
    requested = ports.requested_ports(
        config.getoption("belay_port"), os.environ.get(ports.ENV_VAR), config.getini("belay_port")
    )
    try:
        config.stash[PLAN] = ports.PortPlan(requested, _worker_count(config))
    except ports.PortPlanError as error:
        raise pytest.UsageError(str(error)) from None
    config.pluginmanager.register(backend, "belay-anyio-backend")
    if _worker_id(config) is None:
        config.stash[LAB] = _lab_ports(config.stash[PLAN])
        report = identity.BoardReport(_junit_xml_path(config))
        config.pluginmanager.register(report, "belay-board-report")
        _watch_crashes(config)


def _lab_ports(plan: ports.PortPlan) -> tuple[list[str], SessionOptions] | None:
    """Each process's port (aliases resolved) and the options, where one of them is a labgrid
    port; else ``None`` (also for a bad configuration: the ``belay_container`` fixture reports it)."""
    try:
        container = from_config()
        options = container.options()
    except (ConfigError, BelayError, ValueError):
        return None
    indexes = range(plan.workers) if plan.workers else [None]
    assigned = [resolve_alias(plan.port_for(index), container.port_aliases()) for index in indexes]
    return (assigned, options) if any(is_lab_port(port) for port in assigned) else None


def _watch_crashes(config: pytest.Config) -> None:
    """In an xdist controller testing on a lab port: release the place of a worker that crashes."""
    found = config.stash.get(LAB, None)
    if found is not None and config.stash[PLAN].workers:
        config.pluginmanager.register(lab.CrashedWorkers(found[1]), "belay-lab-crashes")


def _junit_xml_path(config: pytest.Config) -> str | None:
    """Where ``--junitxml`` writes, as pytest resolves it (the directory pytest started in)."""
    path: str | None = config.getoption("--junitxml", None)
    if not path:
        return None
    return os.path.normpath(os.path.abspath(os.path.expanduser(os.path.expandvars(path))))


def pytest_report_header(config: pytest.Config) -> list[str]:
    state = "on" if _leak_check(config) else "off (--no-belay-leak-check)"
    return [
        *config.stash[PLAN].describe(),
        *_lab_header(config),
        f"belay: leak check {state}; boards named in 'belay boards' below",
    ]


def _lab_header(config: pytest.Config) -> list[str]:
    """The places a run's labgrid ports take boards from."""
    found = config.stash.get(LAB, None)
    return [] if found is None else lab.header_lines(*found)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker(identity.REQUIRES_MARKER) is None:
        return
    if not set(BOARD_FIXTURES) & set(getattr(item, "fixturenames", ())):
        pytest.fail(f"@pytest.mark.{identity.REQUIRES_MARKER} needs a board: use one of the fixtures "
                    f"{', '.join(BOARD_FIXTURES)}", pytrace=False)  # fmt: skip


# --- fixtures ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def belay_container() -> Container:
    """What the plugin builds its objects from: configured by the project's ``[tool.belay]`` or
    ``belay.toml`` and ``BELAY_*``; override its providers (in a session fixture of a
    ``conftest.py``) to swap a part, such as the transport factory or the meter."""
    try:
        return from_config()
    except ConfigError as error:  # one line, not a traceback per test
        pytest.fail(f"belay configuration: {error}", pytrace=False)


@pytest.fixture(scope="session")
def belay_port(pytestconfig: pytest.Config, belay_container: Container) -> str:
    """The board this pytest process tests (each xdist worker has its own); an alias of the
    configuration's ``[ports]`` is resolved."""
    plan = pytestconfig.stash[PLAN]
    port = plan.port_for(ports.worker_index(_worker_id(pytestconfig)))
    return resolve_alias(port, belay_container.port_aliases())


@pytest.fixture(scope="session")
async def belay_manager(
    anyio_backend: Any, belay_container: Container
) -> AsyncIterator[DeviceSessionManager]:
    """One session manager for the test session, from ``belay_container``."""
    async with belay_container.session_manager() as manager:
        yield manager


@pytest.fixture
async def _belay_board(
    belay_manager: DeviceSessionManager, belay_port: str, request: pytest.FixtureRequest
) -> Board:
    """The open board, its agent loaded; skips a test whose ``belay_requires`` it does not meet."""
    board = await open_board(belay_manager, belay_port)
    info = board.device.info
    request.node.user_properties.extend(
        identity.identity_properties(info, _worker_id(request.config) or "main")
    )
    request.node.user_properties.extend(lab.place_properties(board.device.transport))
    marker = request.node.get_closest_marker(identity.REQUIRES_MARKER)
    if marker is not None:
        unknown = identity.unknown_requirements(marker.args)
        if unknown:
            pytest.fail(f"{identity.REQUIRES_MARKER}: unknown capability {', '.join(unknown)}", pytrace=False)
        missing = identity.missing_capabilities(board.device.capabilities, marker.args)
        if missing:
            pytest.skip(f"the board on {belay_port} ({info.describe()}) lacks {', '.join(missing)}")
    return board


@pytest.fixture
def belay_device_info(_belay_board: Board) -> DeviceInfo:
    """The identity of the board under test."""
    return _belay_board.device.info


def _leak_checker(manager: DeviceSessionManager, port: str, config: pytest.Config) -> LeakCheck:
    margin = config.getoption("belay_heap_margin")
    return LeakCheck(manager, port, enabled=_leak_check(config), margin=margin)


_CALL_FAILED = pytest.StashKey[bool]()
"""Set on a test whose call failed."""


def _judge(report: LeakReport, check: LeakCheck, request: pytest.FixtureRequest) -> None:
    """Fail the test (at teardown) naming every leak, when the leak check is on; a test that
    failed already, its board rebooted during it, fails once (its own error says so)."""
    if report.heap_change is not None:
        request.node.user_properties.append(("belay_heap_change", str(report.heap_change)))
    if report.rebooted and request.node.stash.get(_CALL_FAILED, False):
        return
    if report.leaks and check.enabled:
        lines = "\n".join(f"  - {leak}" for leak in report.leaks)
        pytest.fail(
            f"belay leak check: {request.node.nodeid} left {len(report.leaks)} thing(s) on the board "
            f"at {check.port}:\n{lines}\n(--no-belay-leak-check turns the check off)",
            pytrace=False,
        )


@pytest.fixture
async def belay_session(
    _belay_board: Board, belay_manager: DeviceSessionManager, belay_port: str, request: pytest.FixtureRequest
) -> AsyncIterator[DeviceSession]:
    """A fresh session for the test; after it, the board must hold nothing of it."""
    check = _leak_checker(belay_manager, belay_port, request.config)
    yield await check.start()
    _judge(await check.finish(), check, request)


@pytest.fixture
async def belay_sync_session(
    _belay_board: Board, belay_manager: DeviceSessionManager, belay_port: str, request: pytest.FixtureRequest
) -> AsyncIterator[SyncSession]:
    """``belay_session`` for plain ``def`` tests: the same session methods without ``await``.

    The test runs in a worker thread while the event loop runs (see :mod:`belay.testing.blocking_session`)."""
    check = _leak_checker(belay_manager, belay_port, request.config)
    session = await check.start()
    async with BlockingPortal() as portal:
        yield SyncSession(session, portal)
    _judge(await check.finish(), check, request)


# --- running plain tests, and reporting failures ----------------------------------------


def _runs_in_worker_thread(item: pytest.Function) -> bool:
    """A plain test of ``belay_sync_session`` (one that anyio would not run itself)."""
    test = item.obj
    return (
        "belay_sync_session" in item.fixturenames
        and "anyio_backend" in item.funcargs
        and not inspect.iscoroutinefunction(test)
        and not hasattr(test, "hypothesis")
    )


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Generator[None, object, object]:
    """A plain test of ``belay_sync_session`` is handed to anyio as a coroutine that runs it in a
    worker thread, so the loop holding its session runs while it waits on the board."""
    if not _runs_in_worker_thread(pyfuncitem):
        return (yield)
    test = pyfuncitem.obj
    pyfuncitem.obj = in_worker_thread(test)
    try:
        return (yield)
    finally:
        pyfuncitem.obj = test


_MACHINERY = ("anyio", "asyncio", "concurrent.futures", "trio", "outcome", "threading", "contextlib")
"""The modules between a test and belay when it calls the board (where they are imported)."""
_PYTEST = ("_pytest", "pluggy")


def _places(names: tuple[str, ...]) -> tuple[str, ...]:
    """The source directories (for packages) or files of the imported modules ``names``."""
    found = []
    for name in names:
        module = sys.modules.get(name)
        file = getattr(module, "__file__", None)
        if file:
            is_package = os.path.basename(file).startswith("__init__.")
            found.append(os.path.dirname(file) + os.sep if is_package else file)
    return tuple(found)


def _internal_places() -> tuple[str, ...]:
    """belay's own source, and the async machinery a call to the board passes through."""
    return (os.path.dirname(__file__) + os.sep, *_places(_MACHINERY))


def _without(tb: TracebackType | None, places: tuple[str, ...]) -> TracebackType | None:
    """A copy of the traceback chain ``tb`` without the frames whose code is in ``places``."""
    kept = []
    while tb is not None:
        if not tb.tb_frame.f_code.co_filename.startswith(places):
            kept.append(tb)
        tb = tb.tb_next
    chain = None
    for entry in reversed(kept):
        chain = TracebackType(chain, entry.tb_frame, entry.tb_lasti, entry.tb_lineno)
    return chain


def _prune(excinfo: pytest.ExceptionInfo[BaseException]) -> None:
    """Leave belay's frames (and the machinery's) out of ``excinfo``'s traceback, when the test's
    own frames (or any code's but pytest's) remain.

    The frames are left out of a copy of the raw traceback chain, not only filtered from
    ``excinfo.traceback``: pytest cuts that traceback at the test's frame by its raw entry, which
    would bring every frame after it back.
    """
    pruned = _without(excinfo.tb, _internal_places())
    if pruned is not None and _without(pruned, _places(_PYTEST)) is not None:
        excinfo.traceback = type(excinfo.traceback)(pruned)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """A failure on a :class:`~belay.BelayError` shows the test's frames and the error (its text
    holds the board's traceback), not the frames of belay and anyio between them."""
    excinfo = call.excinfo
    if excinfo is not None and excinfo.errisinstance(BelayError) and not item.config.getoption("fulltrace"):
        _prune(excinfo)
    report = yield
    if report.when == "call" and report.failed:
        item.stash[_CALL_FAILED] = True
    return report
