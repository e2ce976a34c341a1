"""The blocking API: ``with belay.connect(port) as session:`` for scripts, notebooks and people
who do not write ``async``; ``belay.open_session(port)`` for a session without a ``with`` block
(a notebook's), ended by ``session.close()`` or at the interpreter's exit.

Both are configured as the CLI and the pytest plugin are, through
:func:`belay.container.from_config`: the project's ``[tool.belay]`` (or ``belay.toml``) with
its port aliases and default port, then ``BELAY_*``, then the options given here, which win;
sessions are journalled where the configuration says.

The session's event loop runs in a background thread (an anyio blocking portal), so this
works where a loop already runs in the main thread (Jupyter). Every call blocks until the
board answers; tasks are called as ``add(1, 2)``, generator tasks iterate as plain
iterators, proxies answer plain calls. Ctrl-C during a call interrupts the board, waits for
the session to be usable again, and raises :class:`KeyboardInterrupt`; ending the session
ends it exactly as ``async with manager.session(port)`` does, however it is left.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import ExitStack, asynccontextmanager, contextmanager
from typing import Any

from belay.blocking.base import start_portal
from belay.blocking.session import BlockingFiles, BlockingSession, BlockingTask, BlockingTimer
from belay.blocking.values import BlockingGenerator, BlockingProxy
from belay.container import Container, from_config
from belay.errors import PortNotFoundError
from belay.link import OutputCallback
from belay.session.output import STDOUT
from belay.session.session import DeviceSession
from belay.transports.port_names import resolve_port_name


@contextmanager
def connect(
    port: str | None = None, *, on_output: OutputCallback | None = STDOUT, backend: str = "asyncio",
    **options: Any,
) -> Iterator[BlockingSession]:  # fmt: skip
    """A session on ``port`` with plain (blocking) calls, ended when the block exits.

    ``port``: a port, or an alias of the configuration's ``[ports]`` (default: its ``port``,
    or ``$BELAY_PORT``). ``options`` are :class:`~belay.SessionOptions` fields, over the
    configuration's. ``on_output`` as for :meth:`DeviceSessionManager.session`. Raises what
    opening a session raises (:class:`~belay.errors.PortNotFoundError`,
    :class:`~belay.errors.SessionLimitError`, :class:`~belay.config.ConfigError`, ...).
    """
    with _open(port, on_output, backend, options, at_exit=False) as session:
        yield session


def open_session(
    port: str | None = None, *, on_output: OutputCallback | None = STDOUT, backend: str = "asyncio",
    **options: Any,
) -> BlockingSession:  # fmt: skip
    """:func:`connect`'s session without a ``with`` block, for notebooks and interactive use:
    ended by ``session.close()``, or when the interpreter exits if still open. It is also a
    context manager (``with belay.open_session(port) as session:``)."""
    return _open(port, on_output, backend, options, at_exit=True)


def configured(options: Mapping[str, Any] | None = None) -> Container:
    """The container :func:`connect` uses: :func:`belay.container.from_config` (the project's
    file and ``BELAY_*``), with ``options`` (``SessionOptions`` fields) over it, as the CLI's
    flags are. Raises :class:`ValueError` for an unknown option or a value it cannot use."""
    container = from_config()
    if options:
        container.config.options.from_dict(dict(options))
    container.options()  # validated now, not on the board's loop
    return container


def _port(port: str | None, container: Container) -> str:
    chosen = port if port is not None else container.config.port()
    if not chosen:
        raise PortNotFoundError(
            "no port given, and none configured ([tool.belay] port, or $BELAY_PORT): "
            "pass one, e.g. belay.connect('/dev/ttyACM0') or belay.connect('unix')"
        )
    return resolve_port_name(str(chosen), container.port_aliases())


def _open(
    port: str | None, on_output: OutputCallback | None, backend: str, options: Mapping[str, Any],
    *, at_exit: bool,
) -> BlockingSession:  # fmt: skip
    container = configured(options)
    resolved = _port(port, container)
    portal, stop = start_portal(backend)
    ending = ExitStack()
    ending.callback(stop)
    opening = _opened(container, resolved, on_output)
    return BlockingSession.enter(portal, opening, ending=ending, at_exit=at_exit)


@asynccontextmanager
async def _opened(
    container: Container, port: str, on_output: OutputCallback | None
) -> AsyncIterator[DeviceSession]:
    async with (
        container.session_manager() as manager,
        manager.session(port, on_output=on_output) as session,
    ):
        yield session


__all__ = [
    "BlockingFiles",
    "BlockingGenerator",
    "BlockingProxy",
    "BlockingSession",
    "BlockingTask",
    "BlockingTimer",
    "configured",
    "connect",
    "open_session",
]
