"""The blocking API: ``with belay.connect(port) as session:`` for scripts, notebooks and people
who do not write ``async``.

The session's event loop runs in a background thread (an anyio blocking portal), so this
works where a loop already runs in the main thread (Jupyter). Every call blocks until the
board answers; tasks are called as ``add(1, 2)``, generator tasks iterate as plain
iterators. Ctrl-C during a call interrupts the board, waits for the session to be usable
again, and raises :class:`KeyboardInterrupt`; leaving the ``with`` block ends the session
exactly as ``async with manager.session(port)`` does, however it is left.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from functools import partial
from typing import Any, TypeVar

import anyio
from anyio.from_thread import BlockingPortal, start_blocking_portal

from belay.link import OutputCallback
from belay.options import SessionOptions
from belay.session.functions.generators import GeneratorTask
from belay.session.functions.tasks import RemoteFunction
from belay.session.manager import DeviceSessionManager
from belay.session.output import STDOUT
from belay.session.session import DeviceSession

T = TypeVar("T")

SETTLE_TIMEOUT = 30.0
"""After Ctrl-C, the most the host waits for the interrupted call to hand the session back."""


@contextmanager
def connect(
    port: str, *, on_output: OutputCallback | None = STDOUT, backend: str = "asyncio", **options: Any
) -> Iterator[BlockingSession]:
    """A session on ``port`` with plain (blocking) calls, ended when the block exits.

    ``options`` are :class:`~belay.SessionOptions` fields; ``on_output`` as for
    :meth:`DeviceSessionManager.session`. Raises what opening a session raises
    (:class:`~belay.errors.PortNotFoundError`, :class:`~belay.errors.SessionLimitError`, ...).
    """
    settings = SessionOptions.from_mapping(options)
    with (
        start_blocking_portal(backend) as portal,
        portal.wrap_async_context_manager(_opened(port, on_output, settings)) as session,
    ):
        yield BlockingSession(portal, session)


@asynccontextmanager
async def _opened(
    port: str, on_output: OutputCallback | None, options: SessionOptions
) -> AsyncIterator[DeviceSession]:
    async with (
        DeviceSessionManager(options) as manager,
        manager.session(port, on_output=on_output) as session,
    ):
        yield session


def _cancel_all(scopes: list[anyio.CancelScope]) -> None:
    for scope in scopes:
        scope.cancel()


WRONG_THREAD = (
    "a blocking belay call was made from the event loop's own thread, where it would wait forever: "
    "use the async session (with await) there"
)


class _Blocking:
    """Runs an async object's coroutines to completion on the portal; Ctrl-C cancels one.

    ``loop_thread`` is the portal's event-loop thread (a call from it is refused: it would
    never end); by default it is asked of the portal.
    """

    def __init__(self, portal: BlockingPortal, target: object, loop_thread: int | None = None) -> None:
        self._portal = portal
        self._target = target
        self._loop_thread = portal.call(threading.get_ident) if loop_thread is None else loop_thread

    def _wrap(self, kind: type[B], target: object) -> B:
        return kind(self._portal, target, self._loop_thread)

    def _call(self, function: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        """``await function(*args, **kwargs)`` on the portal; Ctrl-C cancels it there, waits
        until it has let go of the board, then raises :class:`KeyboardInterrupt`."""
        __tracebackhide__ = True
        if threading.get_ident() == self._loop_thread:
            raise RuntimeError(WRONG_THREAD)
        scopes: list[anyio.CancelScope] = []
        settled = threading.Event()

        async def run() -> T | None:
            try:
                with anyio.CancelScope() as scope:
                    scopes.append(scope)
                    return await function(*args, **kwargs)
                return None  # cancelled by Ctrl-C: the host raises KeyboardInterrupt
            finally:
                settled.set()

        future = self._portal.start_task_soon(run)
        try:
            return future.result()  # type: ignore[return-value]  # None only when cancelled
        except KeyboardInterrupt:
            if not settled.is_set():
                self._portal.call(_cancel_all, scopes)
                settled.wait(SETTLE_TIMEOUT)
            raise

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if inspect.iscoroutinefunction(value):
            return partial(self._call, value)
        return value

    def __repr__(self) -> str:
        return f"<blocking {self._target!r}>"


B = TypeVar("B", bound=_Blocking)


class BlockingFiles(_Blocking):
    """``session.fs`` with plain calls: ``session.fs.put(b"...", "data.bin")``."""


class BlockingTimer(_Blocking):
    """A tracked periodic call; ``timer.cancel()`` stops it early."""


class BlockingTask(_Blocking):
    """A task called as a plain function: ``add(1, 2)``; a generator task gives a plain
    iterator (:class:`BlockingGenerator`)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True
        if isinstance(self._target, GeneratorTask):
            return self._wrap(BlockingGenerator, self._target(*args, **kwargs))
        return self._call(self._target, *args, **kwargs)  # type: ignore[arg-type]

    def with_timeout(self, timeout: float | None) -> Callable[..., Any]:
        """A caller with its own deadline (for functions with a ``timeout`` parameter)."""
        return partial(self._call, self._target.with_timeout(timeout))  # type: ignore[attr-defined]


class BlockingGenerator(_Blocking):
    """A generator task's values as a plain iterator; ``close()`` drops it on the board."""

    def __iter__(self) -> BlockingGenerator:
        return self

    def __next__(self) -> Any:
        __tracebackhide__ = True
        try:
            return self._call(self._target.__anext__)  # type: ignore[attr-defined]
        except StopAsyncIteration:
            raise StopIteration from None

    def close(self) -> None:
        self._call(self._target.aclose)  # type: ignore[attr-defined]


class BlockingSession(_Blocking):
    """The session API with plain calls (see :class:`~belay.DeviceSession` for each method)."""

    def __init__(
        self, portal: BlockingPortal, session: DeviceSession, loop_thread: int | None = None
    ) -> None:
        super().__init__(portal, session, loop_thread)
        self.session = session
        """The async session underneath."""
        self.fs = self._wrap(BlockingFiles, session.fs)

    def exec(self, code: str, **kwargs: Any) -> str:
        """Run statements on the board; what they printed (:meth:`DeviceSession.exec`)."""
        __tracebackhide__ = True
        return self._call(self.session.exec, code, **kwargs)

    def eval(self, expression: str, **kwargs: Any) -> Any:
        """The value of ``expression`` on the board (:meth:`DeviceSession.eval`)."""
        __tracebackhide__ = True
        return self._call(self.session.eval, expression, **kwargs)

    def task(self, function: Callable[..., Any] | None = None, *, source: str | None = None) -> BlockingTask:
        """:meth:`DeviceSession.task`, called as a plain function."""
        return self._wrap(BlockingTask, self.session.task(function, source=source))

    def thread(
        self, function: Callable[..., Any] | None = None, *, source: str | None = None
    ) -> BlockingTask:
        """:meth:`DeviceSession.thread`: ``start(*args)`` returns the thread's name."""
        return self._wrap(BlockingTask, self.session.thread(function, source=source))

    def setup(self, function: Callable[..., Any]) -> BlockingTask:
        return self._wrap(BlockingTask, self.session.setup(function))

    def teardown(self, function: Callable[..., Any]) -> BlockingTask:
        return self._wrap(BlockingTask, self.session.teardown(function))

    def timer(
        self, function: BlockingTask | RemoteFunction | Callable[..., Any], **kwargs: Any
    ) -> BlockingTimer:
        """:meth:`DeviceSession.timer`; ``cancel()`` on what it returns stops it."""
        __tracebackhide__ = True
        target = function._target if isinstance(function, BlockingTask) else function
        return self._wrap(BlockingTimer, self._call(self.session.timer, target, **kwargs))

    def call(self, function: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        """``await function(*args, **kwargs)`` for anything else async, as a plain call."""
        __tracebackhide__ = True
        return self._call(function, *args, **kwargs)

    def __repr__(self) -> str:
        return f"<blocking {self.session!r}>"


__all__ = [
    "BlockingFiles",
    "BlockingGenerator",
    "BlockingSession",
    "BlockingTask",
    "BlockingTimer",
    "connect",
]
