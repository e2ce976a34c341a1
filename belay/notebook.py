"""belay in Jupyter and IPython: ``%load_ext belay``, then

- ``%belay connect PORT``: one session per kernel (a second ``connect`` ends the first); closed
  when the kernel shuts down (or ``%belay close``);
- ``%%belay``: the cell runs on the board in that session, its output streamed as it comes
  (what the session's threads printed meanwhile follows it);
  a board traceback names the cell's lines (``File "<cell>", line 3``);
- ``%belay run FILE``: a host file run as ``__main__`` in the session, its traceback mapped to
  the file.

Interrupting the kernel interrupts the board's call and leaves the session usable. The session's
event loop runs in a thread of its own (an anyio blocking portal), so the kernel's own loop is
never entered. Needs IPython, which belay does not install.
"""

from __future__ import annotations

import atexit
import concurrent.futures
import shlex
import sys
from contextlib import AbstractContextManager, suppress
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from anyio.from_thread import BlockingPortal

    from belay.errors import DeviceExecError
    from belay.session.session import DeviceSession

USAGE = "usage: %belay connect PORT | %belay run FILE | %belay close | %%belay (a cell run on the board)"


class NotebookSession:
    """The kernel's one session, opened and called through a blocking portal."""

    def __init__(self) -> None:
        self._portal: BlockingPortal | None = None
        self._session_cm: AbstractContextManager[DeviceSession] | None = None
        self.session: DeviceSession | None = None

    def connect(self, port: str) -> str:
        """Open a session on ``port`` (the configuration's aliases and options apply), ending the
        one open before; returns a line for people."""
        from belay.container import from_config

        self.close()
        container = from_config()
        port = container.port_aliases().get(port, port)
        self._portal = _portal_in_a_daemon_thread()
        manager = container.session_manager()
        self._session_cm = self._portal.wrap_async_context_manager(_managed(manager, port))
        try:
            self.session = self._session_cm.__enter__()
        except BaseException:
            self._session_cm = None
            self.close()
            raise
        return f"belay: connected to {port} ({self.session.device_info.describe()})"

    def run(self, code: str, filename: str) -> None:
        """Run ``code`` in the session, its output streamed to this process's stdout. Ctrl-C
        (a kernel interrupt) interrupts the board's call."""
        if self.session is None or self._portal is None:
            raise RuntimeError("not connected: %belay connect PORT first")
        session = self.session
        future = self._portal.start_task_soon(_exec, session, code, filename)
        try:
            future.result()
        except KeyboardInterrupt:
            future.cancel()
            with suppress(concurrent.futures.CancelledError, Exception):
                future.result(timeout=30)
            raise

    def close(self) -> None:
        """End the session and stop the portal's thread (what is not open is left alone)."""
        session_cm, self._session_cm, self.session = self._session_cm, None, None
        portal, self._portal = self._portal, None
        try:
            if session_cm is not None:
                session_cm.__exit__(None, None, None)
        finally:
            if portal is not None:
                portal.call(portal.stop)


def _portal_in_a_daemon_thread() -> BlockingPortal:
    """A portal into an event loop of its own, in a daemon thread: the interpreter's exit never
    waits for it (the session is closed at exit, while the thread still runs)."""
    import queue
    import threading

    import anyio
    from anyio.from_thread import BlockingPortal

    ready: queue.Queue[BlockingPortal] = queue.Queue()

    async def serve() -> None:
        async with BlockingPortal() as portal:
            ready.put(portal)
            await portal.sleep_until_stopped()

    threading.Thread(target=anyio.run, args=(serve,), name="belay-notebook", daemon=True).start()
    return ready.get(timeout=30)


def _managed(manager: Any, port: str) -> Any:
    """The manager and one session on ``port``, as one async context manager."""
    from contextlib import asynccontextmanager

    @asynccontextmanager
    async def both() -> Any:
        async with manager, manager.session(port, on_output=_stdout) as session:
            yield session

    return both()


def _stdout(data: bytes) -> None:
    sys.stdout.write(data.decode("utf-8", "replace"))
    sys.stdout.flush()


async def _exec(session: DeviceSession, code: str, filename: str) -> None:
    await session.exec(code, filename=filename)
    background = await session.output()  # what the session's threads printed meanwhile
    if background:
        _stdout(background.encode("utf-8", "surrogateescape"))


def show_board_error(shell: Any, kind: type, error: DeviceExecError, tb: Any, tb_offset: Any = None) -> None:
    """IPython's view of a board error: the board's traceback, not belay's frames."""
    sys.stderr.write(error.remote_traceback.rstrip("\n") + "\n")


def belay_magic(line: str, cell: str | None = None) -> None:
    """``%belay ...`` and ``%%belay``; see :mod:`belay.notebook`."""
    if cell is not None:
        SESSION.run(cell, "<cell>")
        return
    words = shlex.split(line)
    if words[:1] == ["connect"] and len(words) == 2:
        sys.stdout.write(SESSION.connect(words[1]) + "\n")
    elif words[:1] == ["run"] and len(words) == 2:
        with open(words[1], encoding="utf-8") as handle:
            SESSION.run(handle.read(), words[1])
    elif words == ["close"]:
        SESSION.close()
    else:
        sys.stderr.write(USAGE + "\n")


SESSION = NotebookSession()
"""The kernel's session (one per process)."""


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext belay``: register ``%belay``/``%%belay``; board errors show as board tracebacks."""
    from belay.errors import DeviceExecError

    ipython.register_magic_function(belay_magic, magic_kind="line_cell", magic_name="belay")
    ipython.set_custom_exc((DeviceExecError,), show_board_error)
    atexit.register(SESSION.close)
