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
from typing import Any

import anyio.to_thread
from anyio.from_thread import BlockingPortal

from belay.blocking import BlockingSession
from belay.session.session import DeviceSession

WRONG_THREAD = (
    "belay_sync_session works in the body of a plain `def` test: use belay_session (with await) in "
    "`async def` tests and fixtures"
)


def in_worker_thread(test: Callable[..., object]) -> Callable[..., Coroutine[Any, Any, None]]:
    """``test`` (a plain test function) as a coroutine function that runs it in a worker thread,
    so the event loop runs while the test waits on the board."""

    async def run_in_worker_thread(**funcargs: Any) -> None:
        __tracebackhide__ = True
        await anyio.to_thread.run_sync(functools.partial(test, **funcargs))

    return run_in_worker_thread


class SyncSession(BlockingSession):
    """A :class:`~belay.session.session.DeviceSession` for plain tests: the same methods, no
    ``await`` (:class:`belay.blocking.BlockingSession` on the test runner's loop).

    ``session`` is the async session itself; ``call(coroutine_function, *args)`` runs anything
    else. Made in the loop's own thread (a fixture), from which a call is refused.
    """

    def __init__(self, session: DeviceSession, portal: BlockingPortal) -> None:
        super().__init__(portal, session, loop_thread=threading.get_ident())

    def _call(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True
        if threading.get_ident() == self._loop_thread:
            raise RuntimeError(WRONG_THREAD)
        return super()._call(function, *args, **kwargs)

    def __repr__(self) -> str:
        return f"<SyncSession {self.session!r}>"
