"""A session for plain ``def`` tests: ``belay_sync_session``.

Its calls run in the anyio test runner's event loop (the one that holds the session-scoped
manager and the async ``belay_session``), one at a time, while the plain test waits. So sync and
async tests of a run share one manager and one open board: a real serial port, which opens only
once, serves both, and no board is opened twice.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from anyio.abc import TestRunner

from belay.board_info import Capabilities, DeviceInfo
from belay.session.functions import Task, Thread
from belay.session.session import DeviceSession, Timer
from belay.session.tracker import ResourceTracker

T = TypeVar("T")


class Blocking:
    """Runs a coroutine function in the test runner's loop and waits for its result."""

    def __init__(self, runner: TestRunner) -> None:
        self._runner = runner

    def __call__(self, function: Callable[..., Coroutine[Any, Any, T]], *args: Any, **kwargs: Any) -> T:
        if self._runner.is_running():
            raise RuntimeError(
                "belay_sync_session is for plain `def` tests: use belay_session in `async def`"
            )

        async def call() -> T:
            return await function(*args, **kwargs)

        return self._runner.run_fixture(call, {})


class SyncFunction:
    """A deployed task or thread, called without ``await``: ``add(1, 2)``."""

    def __init__(self, remote: Task | Thread, run: Blocking) -> None:
        self.remote = remote
        self.__name__ = remote.__name__
        self.__doc__ = remote.__doc__
        self._run = run

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._run(self.remote, *args, **kwargs)


class SyncTimer:
    def __init__(self, timer: Timer, run: Blocking) -> None:
        self.timer = timer
        self.name = timer.name
        self._run = run

    def cancel(self) -> None:
        self._run(self.timer.cancel)


class SyncFiles:
    """``session.fs`` without ``await``."""

    def __init__(self, session: DeviceSession, run: Blocking) -> None:
        self._fs = session.fs
        self._run = run

    def put(self, source: Any, remote_path: str | None = None, **options: Any) -> bool:
        return self._run(self._fs.put, source, remote_path, **options)

    def get(self, remote_path: str, **options: Any) -> bytes:
        return self._run(self._fs.get, remote_path, **options)

    def ls(self, path: str = "", **options: Any) -> list[str]:
        return self._run(self._fs.ls, path, **options)

    def rm(self, remote_path: str, **options: Any) -> None:
        self._run(self._fs.rm, remote_path, **options)

    def temp(self, data: bytes, suffix: str = "") -> str:
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
        return self.call(self.session.exec, code)

    def eval(self, expression: str) -> Any:
        return self.call(self.session.eval, expression)

    def output(self) -> str:
        return self.call(self.session.output)

    def board_stats(self) -> dict[str, Any]:
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
        remote = function.remote if isinstance(function, SyncFunction) else function
        return SyncTimer(self.call(self.session.timer, remote, period_ms=period_ms, args=args), self.call)

    def __repr__(self) -> str:
        return f"<SyncSession {self.session!r}>"
