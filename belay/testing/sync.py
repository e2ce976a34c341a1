"""A session for plain ``def`` tests: ``belay_sync_session``.

Its calls run in the anyio test runner's event loop (the one that holds the session-scoped
manager and the async ``belay_session``), so sync and async tests of a run share one manager and
one open board: a real serial port, which opens only once, serves both, and no board is opened
twice.

The loop runs while the test does: the plugin hands a plain test that uses
``belay_sync_session`` to anyio as a coroutine (:func:`in_worker_thread`) that runs it in a worker
thread (``anyio.to_thread.run_sync``), and each call goes to the loop through a
:class:`~anyio.from_thread.BlockingPortal` opened by the fixture. Only documented anyio APIs.
So a call works from the test's body (and from threads it starts), not from a plain fixture's
setup or teardown, which run in the loop's own thread while the loop is stopped.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar, cast

import anyio.to_thread
from anyio.from_thread import BlockingPortal

from belay.board_info import Capabilities, DeviceInfo
from belay.session.functions import Task, Thread
from belay.session.session import DeviceSession, Timer
from belay.session.tracker import ResourceTracker

T = TypeVar("T")

WRONG_THREAD = (
    "belay_sync_session works in the body of a plain `def` test: use belay_session (with await) in "
    "`async def` tests and fixtures"
)


class Blocking:
    """Runs a coroutine function in the test runner's loop (through ``portal``) and waits for its
    result; refuses a call from the loop's own thread (``loop_thread``), which would never end."""

    def __init__(self, portal: BlockingPortal, loop_thread: int | None = None) -> None:
        self._portal = portal
        self._loop_thread = threading.get_ident() if loop_thread is None else loop_thread

    def __call__(self, function: Callable[..., Coroutine[Any, Any, T]], *args: Any, **kwargs: Any) -> T:
        __tracebackhide__ = True
        if threading.get_ident() == self._loop_thread:
            raise RuntimeError(WRONG_THREAD)
        result = self._portal.call(functools.partial(function, *args, **kwargs))
        return cast(T, result)  # the portal's typing reads a partial's coroutine as Any


def in_worker_thread(test: Callable[..., object]) -> Callable[..., Coroutine[Any, Any, None]]:
    """``test`` (a plain test function) as a coroutine function that runs it in a worker thread,
    so the event loop runs while the test waits on the board."""

    async def run_in_worker_thread(**funcargs: Any) -> None:
        __tracebackhide__ = True
        await anyio.to_thread.run_sync(functools.partial(test, **funcargs))

    return run_in_worker_thread


class SyncFunction:
    """A deployed task or thread, called without ``await``: ``add(1, 2)``."""

    def __init__(self, remote: Task | Thread, run: Blocking) -> None:
        self.remote = remote
        self.__name__ = remote.__name__
        self.__doc__ = remote.__doc__
        self._run = run

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True
        return self._run(self.remote, *args, **kwargs)


class SyncTimer:
    def __init__(self, timer: Timer, run: Blocking) -> None:
        self.timer = timer
        self.name = timer.name
        self._run = run

    def cancel(self) -> None:
        __tracebackhide__ = True
        self._run(self.timer.cancel)


class SyncFiles:
    """``session.fs`` without ``await``."""

    def __init__(self, session: DeviceSession, run: Blocking) -> None:
        self._fs = session.fs
        self._run = run

    def put(self, source: Any, remote_path: str | None = None, **options: Any) -> bool:
        __tracebackhide__ = True
        return self._run(self._fs.put, source, remote_path, **options)

    def get(self, remote_path: str, **options: Any) -> bytes:
        __tracebackhide__ = True
        return self._run(self._fs.get, remote_path, **options)

    def ls(self, path: str = "", **options: Any) -> list[str]:
        __tracebackhide__ = True
        return self._run(self._fs.ls, path, **options)

    def rm(self, remote_path: str, **options: Any) -> None:
        __tracebackhide__ = True
        self._run(self._fs.rm, remote_path, **options)

    def temp(self, data: bytes, suffix: str = "") -> str:
        __tracebackhide__ = True
        return self._run(self._fs.temp, data, suffix)

    def temporary_files(self) -> list[str]:
        return self._fs.temporary_files()


class SyncSession:
    """A :class:`~belay.session.session.DeviceSession` for plain tests: the same methods, no ``await``.

    ``session`` is the async session itself; ``call(coroutine_function, *args)`` runs anything else.
    """

    def __init__(self, session: DeviceSession, run: Blocking) -> None:
        self.session = session
        self.call = run
        self.fs = SyncFiles(session, run)

    session_id = property(lambda self: self.session.session_id)
    port = property(lambda self: self.session.port)

    @property
    def capabilities(self) -> Capabilities:
        return self.session.capabilities

    @property
    def device_info(self) -> DeviceInfo:
        return self.session.device_info

    @property
    def resources(self) -> ResourceTracker:
        return self.session.resources

    def exec(self, code: str) -> str:
        __tracebackhide__ = True
        return self.call(self.session.exec, code)

    def eval(self, expression: str) -> Any:
        __tracebackhide__ = True
        return self.call(self.session.eval, expression)

    def output(self) -> str:
        __tracebackhide__ = True
        return self.call(self.session.output)

    def board_stats(self) -> dict[str, Any]:
        __tracebackhide__ = True
        return self.call(self.session.board_stats)

    def task(self, function: Callable[..., Any]) -> SyncFunction:
        return SyncFunction(self.session.task(function), self.call)

    def thread(self, function: Callable[..., Any]) -> SyncFunction:
        return SyncFunction(self.session.thread(function), self.call)

    def setup(self, function: Callable[..., Any]) -> SyncFunction:
        return SyncFunction(self.session.setup(function), self.call)

    def teardown(self, function: Callable[..., Any]) -> SyncFunction:
        return SyncFunction(self.session.teardown(function), self.call)

    def timer(self, function: SyncFunction | Callable[..., Any], *, period_ms: int,
              args: tuple[Any, ...] = ()) -> SyncTimer:  # fmt: skip
        __tracebackhide__ = True
        remote = function.remote if isinstance(function, SyncFunction) else function
        return SyncTimer(self.call(self.session.timer, remote, period_ms=period_ms, args=args), self.call)

    def __repr__(self) -> str:
        return f"<SyncSession {self.session!r}>"
