"""A session: one piece of work on a board, whose every trace is removed when it ends."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio

from belay import literals
from belay.board_info import Capabilities, DeviceInfo
from belay.device import Device
from belay.device_files import device_file
from belay.errors import (
    ConnectionLostError,
    DeviceCapabilityError,
    DeviceExecError,
    ResourceCleanupError,
    SessionError,
)
from belay.link import OutputCallback
from belay.options import SessionOptions
from belay.session.board import Board
from belay.session.files import SessionFiles
from belay.session.functions import RemoteFunction, Task, Thread
from belay.session.state import SessionEvent, SessionState, next_state
from belay.session.tracker import ResourceTracker

logger = logging.getLogger(__name__)
T = TypeVar("T")


class Timer:
    """A tracked periodic call on the board; ``await timer.cancel()`` stops it early."""

    def __init__(self, session: DeviceSession, name: str) -> None:
        self.session = session
        self.name = name

    async def cancel(self) -> None:
        await self.session.run(f"_bat.cancel_timer({self.session.session_id!r}, {self.name!r})")
        self.session.resources.unregister_timer(self.name)


class DeviceSession:
    """Work on one board: tasks, threads, timers, exec/eval in a namespace of its own.

    Everything it leaves on the board is recorded in :attr:`resources` and removed by
    :meth:`close` (the manager calls it when the ``async with`` block ends).
    """

    def __init__(
        self,
        board: Board,
        session_id: str,
        options: SessionOptions,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.session_id = session_id
        self.options = options
        self.created_at = time.time()
        self.resources = ResourceTracker()
        self.state = SessionState.CREATED
        self.last_used = clock()
        self._board = board
        self._clock = clock
        self._setups: list[Task] = []
        self._teardowns: list[Task] = []
        self._names = 0
        self.fs = SessionFiles(self)

    # --- identity -----------------------------------------------------------------------

    @property
    def port(self) -> str:
        return self._board.port

    @property
    def is_active(self) -> bool:
        return self.state is SessionState.ACTIVE

    @property
    def capabilities(self) -> Capabilities:
        return self._board.device.capabilities

    @property
    def device_info(self) -> DeviceInfo:
        return self._board.device.info

    # --- lifecycle ----------------------------------------------------------------------

    async def begin(self) -> None:
        """Load the agent if needed and open this session's namespace on the board."""
        await self._board.ensure_agent()
        lease_ms = int(self.options.lease * 1000)
        try:
            await self._board.device.exec(f"_ba.begin({self.session_id!r}, {lease_ms})")
        except DeviceExecError as error:
            if error.remote_type != "MemoryError":
                raise
            raise SessionError(
                f"the board on {self.port} has no memory left for another session "
                f"({len(self._board.sessions)} open)",
                session_id=self.session_id,
                recoverable=True,
            ) from error
        self.state = next_state(self.state, SessionEvent.BEGIN)

    async def close(self) -> None:
        """Run teardowns, release custom resources, then remove everything from the board.

        Runs shielded within ``cleanup_timeout``; raises one :class:`ResourceCleanupError`
        naming every failure.
        """
        if self.state is not SessionState.ACTIVE:
            return
        self.state = next_state(self.state, SessionEvent.CLOSE)
        failures: list[tuple[str, BaseException]] = []
        with anyio.move_on_after(self.options.cleanup_timeout, shield=True) as scope:
            await self._close_steps(failures)
        if scope.cancelled_caught:
            failures.append(("session cleanup", TimeoutError(f"over {self.options.cleanup_timeout:g}s")))
        if self.state is SessionState.CLOSING:
            self.state = next_state(self.state, SessionEvent.CLOSED)
        self.resources.forget_board_records()
        if failures:
            raise ResourceCleanupError(f"session {self.session_id} did not end cleanly", failures)

    async def _close_steps(self, failures: list[tuple[str, BaseException]]) -> None:
        for teardown in self._teardowns:
            try:
                await teardown()
            except ConnectionLostError as error:
                return self._lost(error, failures)
            except Exception as error:
                failures.append((f"teardown {teardown.code.name}", error))
        try:
            await self.resources.cleanup(self.options.cleanup_timeout)
        except ResourceCleanupError as error:
            failures.extend(error.failures)
        try:
            report = await self._board.device.eval_code(f"_ba.end({self.session_id!r}, 1000)")
        except ConnectionLostError as error:
            return self._lost(error, failures)
        except Exception as error:
            failures.append(("board cleanup", error))
            return None
        failures.extend((str(item), RuntimeError(str(item))) for item in report)
        return None

    def _lost(self, error: ConnectionLostError, failures: list[tuple[str, BaseException]]) -> None:
        self.state = next_state(self.state, SessionEvent.LOSE)
        if not error.rebooted:  # after a reboot nothing of the session is left on the board
            failures.append(("board", error))

    async def renew_lease(self) -> None:
        """Tell the agent this session is alive (without counting as use of the session)."""
        await self._board.device.exec(f"_ba.get({self.session_id!r})")

    # --- running code -------------------------------------------------------------------

    async def run(self, code: str, on_output: OutputCallback | None = None) -> str:
        """Run agent-level ``code`` for this session (pending setups first); return its output."""
        timeout = self.options.call_timeout
        return await self._on_board(lambda device: device.exec(code, timeout=timeout, on_output=on_output))

    async def run_value(self, code: str) -> Any:
        """Run agent-level ``code`` that prints one ``repr``; return that value."""
        timeout = self.options.call_timeout
        return await self._on_board(lambda device: device.eval_code(code, timeout=timeout))

    async def _on_board(self, call: Callable[[Device], Awaitable[T]]) -> T:
        """Make a call for this session: it must be active, its setups run first, a lost
        board moves it to LOST."""
        self._check_active()
        self.last_used = self._clock()
        await self._run_setups()
        try:
            return await call(self._board.device)
        except ConnectionLostError:
            self.state = next_state(self.state, SessionEvent.LOSE)
            raise

    async def _run_setups(self) -> None:
        while self._setups:
            await self._setups.pop(0)()

    async def exec(self, code: str, *, on_output: OutputCallback | None = None) -> str:
        """Run statements in this session's namespace; return what they printed.

        ``on_output`` receives the output as it arrives, as bytes.
        """
        return await self.run(f"_ba.x({self.session_id!r}, {code!r})", on_output)

    async def eval(self, expression: str) -> Any:
        """The value of ``expression`` in this session's namespace."""
        return await self.run_value(f"_ba.e({self.session_id!r}, {expression!r})")

    async def output(self) -> str:
        """What this session's background threads and timers printed since the last look."""
        code = f"_s = _ba.get({self.session_id!r})\nprint(repr(''.join(_s.out)))\n_s.out = []\ndel _s"
        return str(await self.run_value(code))

    # --- decorators -----------------------------------------------------------------------

    def task(self, function: Callable[..., Any]) -> Task:
        """Run ``function`` on the board: ``await f(*args)``; its source is sent once."""
        return Task(self, function)

    def thread(self, function: Callable[..., Any]) -> Thread:
        """Start ``function`` in a tracked background thread: ``await f(*args)``."""
        return Thread(self, function)

    def setup(self, function: Callable[..., Any]) -> Task:
        """Run ``function`` on the board before this session's next call."""
        task = Task(self, function)
        self._setups.append(task)
        return task

    def teardown(self, function: Callable[..., Any]) -> Task:
        """Run ``function`` on the board when the session ends, before its cleanup."""
        task = Task(self, function)
        self._teardowns.append(task)
        return task

    async def timer(self, function: RemoteFunction | Callable[..., Any], *, period_ms: int,
                    args: tuple[Any, ...] = ()) -> Timer:  # fmt: skip
        """Call ``function(*args)`` on the board every ``period_ms``; tracked and removed at the end."""
        if not (self.capabilities.timer or self.capabilities.threads):
            raise DeviceCapabilityError(
                f"the board on {self.port} has neither machine.Timer nor _thread", capability="timer"
            )
        remote = function if isinstance(function, RemoteFunction) else Task(self, function)
        name = self.next_name("timer")
        sid = self.session_id
        code = remote.deploy_code() + (
            f"_bat.timer({sid!r}, {name!r}, {remote.code.name!r}, {int(period_ms)}, {literals.dumps(args)})"
        )
        await self.run(code)
        remote.deployed()
        self.resources.register_timer(name)
        return Timer(self, name)

    def next_name(self, prefix: str) -> str:
        """A name for a thread or timer, unique within this session (``blink-1``, ``timer-2``)."""
        self._names += 1
        return f"{prefix}-{self._names}"

    async def board_stats(self) -> dict[str, Any]:
        """This session's records as the agent keeps them on the board."""
        stats = await self.run_value(device_file("agent_stats.py").decode())
        record: dict[str, Any] = stats["sessions"].get(self.session_id, {})
        self.resources.update_thread_states({n: s for n, (s, _) in record.get("threads", {}).items()})
        return record

    def _check_active(self) -> None:
        if self.state is not SessionState.ACTIVE and not (
            self.state is SessionState.CLOSING and self._teardowns
        ):
            raise SessionError(f"session {self.session_id} is {self.state.value}", session_id=self.session_id)

    def __repr__(self) -> str:
        return f"<DeviceSession {self.session_id} on {self.port} {self.state.value}>"
