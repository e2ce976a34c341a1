"""The blocking API's engine: an event loop in a daemon thread, and :class:`Blocking`, which runs
an async object's coroutines to completion on it, one plain call at a time.

Ctrl-C during a call cancels it on the loop, waits until it has let go of the board, then raises
:class:`KeyboardInterrupt`. A call made after its session ended raises
:class:`~belay.errors.SessionError` naming the session and its board.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

import anyio
from anyio.from_thread import BlockingPortal

from belay.errors import SessionError

T = TypeVar("T")

SETTLE_TIMEOUT = 30.0
"""After Ctrl-C, the most the host waits for the interrupted call to hand the session back."""

WRONG_THREAD = (
    "a blocking belay call was made from the event loop's own thread, where it would wait forever: "
    "use the async session (with await) there"
)


def start_portal(backend: str = "asyncio") -> tuple[BlockingPortal, Callable[[], None]]:
    """A portal to an event loop run by a daemon thread, and the function that stops both.

    A daemon thread, unlike :func:`anyio.from_thread.start_blocking_portal`'s worker, does not
    hold up the interpreter's exit, so an ``atexit`` hook can still end a session on it."""
    started: Future[BlockingPortal] = Future()

    async def serve() -> None:
        async with BlockingPortal() as portal:
            started.set_result(portal)
            await portal.sleep_until_stopped()

    def run() -> None:
        try:
            anyio.run(serve, backend=backend)
        except BaseException as error:  # handed to the thread that waits
            if not started.done():
                started.set_exception(error)

    thread = threading.Thread(target=run, name="belay-session-loop", daemon=True)
    thread.start()
    portal = started.result()

    def stop() -> None:
        portal.call(portal.stop)
        thread.join()

    return portal, stop


@dataclass
class Life:
    """What every blocking object of one session shares: whether the session has ended."""

    session_id: str
    port: str
    ended: bool = False

    def check(self) -> None:
        if self.ended:
            raise SessionError(
                f"a blocking call on {self.port} used after session {self.session_id} ended",
                session_id=self.session_id,
            )


def _cancel_all(scopes: list[anyio.CancelScope]) -> None:
    for scope in scopes:
        scope.cancel()


class Blocking:
    """Runs an async object's coroutines to completion on the portal; Ctrl-C cancels one.

    ``loop_thread`` is the portal's event-loop thread (a call from it is refused: it would
    never end); by default it is asked of the portal.
    """

    def __init__(
        self, portal: BlockingPortal, target: object, loop_thread: int | None = None, life: Life | None = None
    ) -> None:
        self._portal = portal
        self._target = target
        self._loop_thread = portal.call(threading.get_ident) if loop_thread is None else loop_thread
        self._life = life

    def _wrap(self, kind: type[B], target: object) -> B:
        return kind(self._portal, target, self._loop_thread, self._life)

    def _value(self, value: Any) -> Any:
        """What a call returned, as the blocking API gives it (see :mod:`belay.blocking.proxies`)."""
        return value

    def _call(self, function: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        """``await function(*args, **kwargs)`` on the portal; Ctrl-C cancels it there, waits
        until it has let go of the board, then raises :class:`KeyboardInterrupt`."""
        __tracebackhide__ = True
        if threading.get_ident() == self._loop_thread:
            raise RuntimeError(WRONG_THREAD)
        if self._life is not None:
            self._life.check()
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

    def _call_value(self, function: Callable[..., Awaitable[Any]], *args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True
        return self._value(self._call(function, *args, **kwargs))

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._target, name)
        if inspect.iscoroutinefunction(value):
            return partial(self._call_value, value)
        return value

    def __repr__(self) -> str:
        return f"<blocking {self._target!r}>"


B = TypeVar("B", bound=Blocking)


async def awaited(awaitable: Awaitable[T]) -> T:
    """``await awaitable``, as a coroutine function :meth:`Blocking._call` can run."""
    return await awaitable


__all__ = ["SETTLE_TIMEOUT", "WRONG_THREAD", "Blocking", "Life", "awaited", "start_portal"]
