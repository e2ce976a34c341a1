"""The session API with plain calls: :class:`BlockingSession` and what it hands out (tasks,
files, timers). ``close()`` (or leaving its ``with`` block) ends the session."""

from __future__ import annotations

import atexit
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager, ExitStack
from functools import partial
from types import TracebackType
from typing import Any, TypeVar

from anyio.from_thread import BlockingPortal

from belay.blocking.base import Life
from belay.blocking.values import BlockingGenerator, Valued
from belay.session.functions.generators import GeneratorTask
from belay.session.functions.tasks import RemoteFunction
from belay.session.session import DeviceSession

T = TypeVar("T")


class BlockingFiles(Valued):
    """``session.fs`` with plain calls: ``session.fs.put(b"...", "data.bin")``."""


class BlockingTimer(Valued):
    """A tracked periodic call; ``timer.cancel()`` stops it early."""


class BlockingTask(Valued):
    """A task called as a plain function: ``add(1, 2)``; a generator task gives a plain
    iterator (:class:`~belay.blocking.values.BlockingGenerator`)."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True
        if isinstance(self._target, GeneratorTask):
            return self._wrap(BlockingGenerator, self._target(*args, **kwargs))
        return self._call_value(self._target, *args, **kwargs)  # type: ignore[arg-type]

    def with_timeout(self, timeout: float | None) -> Callable[..., Any]:
        """A caller with its own deadline (for functions with a ``timeout`` parameter)."""
        return partial(self._call_value, self._target.with_timeout(timeout))  # type: ignore[attr-defined]


class BlockingSession(Valued):
    """The session API with plain calls (see :class:`~belay.DeviceSession` for each method).

    ``close()``, or leaving a ``with`` block, ends the session; a session from
    :func:`belay.open_session` is also ended at the interpreter's exit if still open.
    """

    def __init__(
        self, portal: BlockingPortal, session: DeviceSession, loop_thread: int | None = None
    ) -> None:
        super().__init__(portal, session, loop_thread, Life(session.session_id, session.port))
        self.session = session
        """The async session underneath."""
        self.fs = self._wrap(BlockingFiles, session.fs)
        self._ending: ExitStack | None = None

    def exec(self, code: str, **kwargs: Any) -> str | None:
        """Run statements on the board (:meth:`DeviceSession.exec`). What they print is streamed
        to the session's ``on_output`` as it arrives, so ``exec`` returns ``None`` then (a
        notebook shows it once); with ``on_output=None`` it returns the printed text."""
        __tracebackhide__ = True
        printed = self._call(self.session.exec, code, **kwargs)
        streamed = kwargs.get("on_output") is not None or self.session.on_output is not None
        return None if streamed else printed

    def eval(self, expression: str, **kwargs: Any) -> Any:
        """The value of ``expression`` on the board (:meth:`DeviceSession.eval`)."""
        __tracebackhide__ = True
        return self._call(self.session.eval, expression, **kwargs)

    def proxy(self, expression: str, **kwargs: Any) -> Any:
        """:meth:`DeviceSession.proxy`: a :class:`~belay.blocking.values.BlockingProxy`."""
        __tracebackhide__ = True
        return self._call_value(self.session.proxy, expression, **kwargs)

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

    # --- the session's life -------------------------------------------------------------

    @classmethod
    def enter(
        cls, portal: BlockingPortal, opening: AbstractAsyncContextManager[DeviceSession], *,
        ending: ExitStack | None = None, at_exit: bool = False,
    ) -> BlockingSession:  # fmt: skip
        """The session ``opening`` (such as ``manager.session(port)``) opens on ``portal``'s
        loop, with plain calls; closing it leaves ``opening``, then closes ``ending``."""
        with ending if ending is not None else ExitStack() as stack:
            session = stack.enter_context(portal.wrap_async_context_manager(opening))
            blocking = cls(portal, session)
            blocking.own(stack.pop_all(), at_exit=at_exit)
        return blocking

    def own(self, ending: ExitStack, *, at_exit: bool) -> None:
        """Take ``ending`` (what ends the session and its loop) as this session's to close;
        ``at_exit``: also close it when the interpreter exits."""
        self._ending = ending
        if at_exit:
            atexit.register(self.close)

    def close(self) -> None:
        """End the session (threads stopped, timers, functions and temporary files removed)
        and its event loop; nothing happens the second time."""
        self._end(None, None, None)

    def _end(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> bool:
        ending, self._ending = self._ending, None
        if ending is None:
            return False
        atexit.unregister(self.close)
        try:
            return bool(ending.__exit__(kind, error, trace))
        finally:
            if self._life is not None:
                self._life.ended = True

    def __enter__(self) -> BlockingSession:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> bool:
        return self._end(kind, error, trace)

    def __repr__(self) -> str:
        return f"<blocking {self.session!r}>"


__all__ = ["BlockingFiles", "BlockingSession", "BlockingTask", "BlockingTimer"]
