"""A session: one piece of work on a board, whose every trace is removed when it ends."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio

from belay import literals
from belay.board_info import Capabilities, DeviceInfo
from belay.device import Device
from belay.device_files import minified_device_file
from belay.errors import (
    BelayError,
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
from belay.session.records import ReapedSession, reaped_sessions
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
        await self.session.run(f"_bat.cancel_timer({self.session.token!r}, {self.name!r})")
        self.session.resources.unregister_timer(self.name)


class DeviceSession:
    """Work on one board: tasks, threads, timers, exec/eval in a namespace of its own.

    Everything it leaves on the board is recorded in :attr:`resources` and removed by
    :meth:`close` (the manager calls it when the ``async with`` block ends). The board knows
    the session by ``token``, a secret only this host holds; ``session_id`` is its public name.
    """

    def __init__(
        self,
        board: Board,
        session_id: str,
        options: SessionOptions,
        clock: Callable[[], float] = time.monotonic,
        token: str | None = None,
    ) -> None:
        self.session_id = session_id
        self.token = token or secrets.token_urlsafe(8)
        self.options = options
        self.created_at = time.time()
        self.resources = ResourceTracker()
        self.state = SessionState.CREATED
        self.last_used = clock()
        self.renewed_at = self.last_used  # when the board last heard of this session
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
    def board(self) -> Board:
        """The board this session runs on (shared with the other sessions there)."""
        return self._board

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

    async def begin(self) -> list[ReapedSession]:
        """Load the agent if needed and open this session's namespace on the board.

        Returns the sessions the agent reaped since a host last asked: leases that ran out,
        and sessions a lost connection to this board left behind.
        """
        orphans = await self._board.ensure_agent()
        lease_ms = int(self.options.lease * 1000)
        try:
            reaped = await self._board.device.eval_code(self._begin_code(lease_ms))
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
        return orphans + reaped_sessions(reaped)

    def _begin_code(self, lease_ms: int) -> str:
        """``begin`` renews the leases of this host's other sessions on the board that have not
        been renewed lately first: a long call may have kept their renewals off the line, and
        begin reaps what has run out."""
        now = self._clock()
        others = [
            s.token for s in self._board.sessions.values()
            if s is not self and s.renewed_at < now - s.options.lease / 3
        ]  # fmt: skip
        renew = f"for _t in {others!r}:\n if _t in _ba.S: _ba.get(_t)\ndel _t\n" if others else ""
        # A string constant of at most 10 characters is interned by the board's compiler and
        # stays in its heap for good: ids and tokens are longer (12 and 11 characters).
        return f"{renew}_ba.begin({self.token!r}, {self.session_id!r}, {lease_ms})"

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
            report = await self._board.device.eval_code(f"_ba.end({self.token!r}, 1000)")
        except ConnectionLostError as error:
            return self._lost(error, failures)
        except DeviceExecError as error:
            failures.append(("board cleanup", self._gone(error)))
            return None
        except Exception as error:
            failures.append(("board cleanup", error))
            return None
        failures.extend((str(item), RuntimeError(str(item))) for item in report)
        return None

    def mark_lost(self) -> None:
        """The board went away under this session: it is LOST, and no call is made any more."""
        if self.state in (SessionState.CREATED, SessionState.ACTIVE, SessionState.CLOSING):
            self.state = next_state(self.state, SessionEvent.LOSE)

    def _lost(self, error: ConnectionLostError, failures: list[tuple[str, BaseException]]) -> None:
        self.state = next_state(self.state, SessionEvent.LOSE)
        if not error.rebooted:  # after a reboot nothing of the session is left on the board
            failures.append(("board", error))

    async def renew_lease(self) -> None:
        """Tell the agent this session is alive (without counting as use of the session)."""
        started = self._clock()
        try:
            await self._board.device.exec(f"_ba.get({self.token!r})")
        except DeviceExecError as error:
            raise self._gone(error) from error
        self.renewed_at = started

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
        started = self._clock()  # the board stamps the session when the call starts
        try:
            result = await call(self._board.device)
        except ConnectionLostError:
            self.state = next_state(self.state, SessionEvent.LOSE)
            raise
        except DeviceExecError as error:
            raise self._gone(error) from error
        self.renewed_at = started
        return result

    def _gone(self, error: DeviceExecError) -> BelayError:
        """``error`` itself, or a :class:`SessionError` when it says the board no longer
        knows this session's token (its lease ran out and it was reaped)."""
        if error.remote_type != "KeyError" or self.token not in error.remote_message:
            return error
        if self.state in (SessionState.ACTIVE, SessionState.CLOSING):
            self.state = next_state(self.state, SessionEvent.LOSE)
        return SessionError(
            f"the board on {self.port} no longer holds session {self.session_id}: its lease "
            f"({self.options.lease:g}s) ran out and the board reaped it",
            session_id=self.session_id,
            recoverable=True,
        )

    async def _run_setups(self) -> None:
        while self._setups:
            await self._setups.pop(0)()

    async def exec(self, code: str, *, on_output: OutputCallback | None = None) -> str:
        """Run statements in this session's namespace; return what they printed.

        ``on_output`` receives the output as it arrives, as bytes.
        """
        return await self.run(f"_ba.x({self.token!r}, {code!r})", on_output)

    async def eval(self, expression: str) -> Any:
        """The value of ``expression`` in this session's namespace."""
        return await self.run_value(f"_ba.e({self.token!r}, {expression!r})")

    async def output(self) -> str:
        """What this session's background threads and timers printed since the last look."""
        code = f"_s = _ba.get({self.token!r})\nprint(repr(''.join(_s.out)))\n_s.out = []\ndel _s"
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
        arguments = literals.dumps(args)
        code = remote.deploy_code() + (
            f"_bat.timer({self.token!r}, {name!r}, {remote.code.name!r}, {int(period_ms)}, {arguments})"
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
        stats = await self.run_value(minified_device_file("agent_stats.py").decode())
        record: dict[str, Any] = stats["sessions"].get(self.session_id, {})
        self.resources.update_thread_states({n: s for n, (s, _) in record.get("threads", {}).items()})
        return record

    def _check_active(self) -> None:
        if self._board.device.is_lost and self.state in (SessionState.ACTIVE, SessionState.CLOSING):
            self.state = next_state(self.state, SessionEvent.LOSE)
            raise ConnectionLostError(f"the board on {self.port} is gone", port=self.port)
        if self.state is not SessionState.ACTIVE and not (
            self.state is SessionState.CLOSING and self._teardowns
        ):
            raise SessionError(f"session {self.session_id} is {self.state.value}", session_id=self.session_id)

    def __repr__(self) -> str:
        return f"<DeviceSession {self.session_id} on {self.port} {self.state.value}>"
