"""A session: one piece of work on a board, whose every trace is removed when it ends."""

from __future__ import annotations

import logging
import math
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import anyio

from belay.agent import calls
from belay.agent.answers import AnswerStream, no_answer, read_value, split_answer, value_of
from belay.board_info import Capabilities, DeviceInfo
from belay.deadline import Deadline
from belay.device import OUTPUT_TRUNCATED, Device
from belay.errors import (
    BelayError,
    ConnectionLostError,
    DeviceExecError,
    ResourceCleanupError,
    SessionError,
)
from belay.link import CallResult, OutputCallback
from belay.literals.reader import INLINE_TEXT
from belay.log import SESSION_ID
from belay.options import SessionOptions
from belay.session.board import Board
from belay.session.context import DEFAULT, Timeout
from belay.session.diagnosis import BoardErrors
from belay.session.files.facade import SessionFiles
from belay.session.functions.factory import make_task, make_thread
from belay.session.functions.modules import adopt_modules
from belay.session.functions.tasks import RemoteFunction, Task, Thread, Timer, start_timer
from belay.session.metered import LabelledCalls, MeteredTracker
from belay.session.opening import begin_on_board, end_on_board, why_gone
from belay.session.output import STDOUT
from belay.session.records import ReapedSession, reaped_sessions
from belay.session.state import SessionEvent, SessionState, next_state
from belay.session.tracker import ResourceTracker

if TYPE_CHECKING:  # what only some sessions use is imported when they first use it
    from belay.session.functions.generators import GeneratorTask
    from belay.telemetry import SessionTelemetry

logger = logging.getLogger(__name__)
T = TypeVar("T")


class DeviceSession:
    """Work on one board: tasks, threads, timers, exec/eval in a namespace of its own.

    Everything it leaves on the board is recorded in :attr:`resources` and removed by
    :meth:`close` (the manager calls it when the ``async with`` block ends). The board knows
    the session by ``token``, a secret only this host holds (given, and never changed: its
    files and tasks keep it); ``session_id`` is its public name.
    What its code prints goes to ``on_output`` as it arrives (default: the host's standard
    output; ``None``: nowhere).
    """

    def __init__(
        self,
        board: Board,
        session_id: str,
        options: SessionOptions,
        clock: Callable[[], float] = time.monotonic,
        token: str | None = None,
        on_output: OutputCallback | None = STDOUT,
        telemetry: SessionTelemetry | None = None,
    ) -> None:
        self.session_id = session_id
        self.telemetry = telemetry  # None: metrics off
        self.token = token or secrets.token_urlsafe(8)
        self.handle: int | None = None
        """What names the session in its calls once it began (drawn from the token: not guessable)."""
        self.options = options
        self.created_at = time.time()
        self.resources = (
            ResourceTracker() if telemetry is None else MeteredTracker(telemetry.resource_registered)
        )
        self.state = SessionState.CREATED
        self.last_used = clock()
        self.renewed_at = self.last_used  # when the board last heard of this session
        self.on_output = on_output
        self._board = board
        self._clock = clock
        self._boot = board.device.reboots
        self._errors = BoardErrors(self)
        self._setups: list[Task] = []
        self._teardowns: list[Task] = []
        self._names = 0
        self._releases: list[str] = []  # agent code freeing what the host dropped
        self.fs = SessionFiles(LabelledCalls(self, "file"))  # file calls are bookkeeping: bounded

    # --- identity -----------------------------------------------------------------------

    @property
    def port(self) -> str:
        return self._board.port

    @property
    def board(self) -> Board:
        """The board this session runs on (shared with the other sessions there)."""
        return self._board

    @property
    def ref(self) -> str | int:
        """What the session's calls name it by: its handle, its token until it has one."""
        return self.token if self.handle is None else self.handle

    @property
    def lease(self) -> float:
        return self.options.lease

    @property
    def is_active(self) -> bool:
        return self.state is SessionState.ACTIVE

    @property
    def capabilities(self) -> Capabilities:
        return self._board.device.capabilities

    @property
    def device_info(self) -> DeviceInfo:
        return self._board.device.info

    def release_later(self, code: str) -> None:
        """Send ``code`` (that frees something the host dropped) ahead of this session's next call."""
        self._releases.append(code)

    def remember_origin(self, name: str, file: str, first_line: int) -> None:
        """Board frames of function ``name`` are mapped to ``file`` from ``first_line`` on."""
        self._errors.remember(name, file, first_line)

    # --- lifecycle ----------------------------------------------------------------------

    async def begin(self) -> list[ReapedSession]:
        """Load the agent if needed and open this session's namespace on the board.

        Returns the sessions the agent reaped since a host last asked: leases that ran out,
        and sessions a lost connection to this board left behind. Raises a recoverable
        :class:`SessionError` when the board has no memory left for it.
        """
        orphans = await self._board.ensure_agent()
        self._boot = self._board.device.reboots
        renew = self._board.tokens_to_renew(self, self._clock())
        lease_ms = int(self.options.lease * 1000)
        reaped, self.handle = await begin_on_board(self._board, self.token, self.session_id, lease_ms, renew)
        self.state = next_state(self.state, SessionEvent.BEGIN)
        return orphans + reaped_sessions(reaped)

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
        if self._board.device.reboots != self._boot:
            return None  # the board rebooted: nothing of the session is left on it
        try:
            if self.options.keep_modules and self.capabilities.threads:
                await self._board.device.exec(calls.keep_modules(self.ref))
            report = await end_on_board(self._board, self.token, self.handle)
        except ConnectionLostError as error:
            return self._lost(error, failures)
        except DeviceExecError as error:
            failures.append(("board cleanup", self._errors.gone(await self._why(error))))
            return None
        except Exception as error:
            failures.append(("board cleanup", error))
            return None
        failures.extend((str(item), RuntimeError(str(item))) for item in report)
        return None

    async def _why(self, error: DeviceExecError) -> DeviceExecError:
        return await why_gone(self._board.device, self.token, self.handle, error)

    def board_rebooted(self) -> None:
        """The board rebooted under this open session: it is LOST (its calls say why)."""
        if self.state is SessionState.ACTIVE:
            self.state = next_state(self.state, SessionEvent.LOSE)

    def mark_lost(self) -> None:
        """The board went away under this session: it is LOST, and no call is made any more."""
        if self.state in (SessionState.CREATED, SessionState.ACTIVE, SessionState.CLOSING):
            self.state = next_state(self.state, SessionEvent.LOSE)

    def _lost(self, error: ConnectionLostError, failures: list[tuple[str, BaseException]]) -> None:
        self.mark_lost()  # (the failed call may have made it LOST already)
        if not error.rebooted:  # after a reboot nothing of the session is left on the board
            failures.append(("board", error))

    async def renew_lease(self) -> None:
        """Tell the agent this session is alive (without counting as use of the session)."""
        started = self._clock()
        try:
            await self._board.device.exec(calls.renew(self.ref))
        except DeviceExecError as error:
            raise self._lost_if_gone(self._errors.gone(await self._why(error))) from error
        self.renewed_at = started

    def _lost_if_gone(self, error: BelayError) -> BelayError:
        """``error``; a :class:`SessionError` (the board no longer holds this session) makes the
        session LOST first, so its end tries nothing more on the board."""
        if isinstance(error, SessionError):
            self.mark_lost()
        return error

    # --- running code -------------------------------------------------------------------

    async def run(
        self, code: str, *, timeout: Timeout = DEFAULT, on_output: OutputCallback | None = None,
        kind: str = "exec", name: str | None = None, modules: bool = False,
    ) -> str:  # fmt: skip
        """Run agent-level ``code`` for this session (pending setups first); return what it
        printed, streamed to ``on_output`` (default: the session's) as it arrives. ``kind`` and
        ``name`` label the call in telemetry; with ``modules``, its answer lists the modules
        the session first imported (:func:`~belay.agent.calls.exec_code`'s)."""
        forward = on_output if on_output is not None else self.on_output
        result = await self._call(code, timeout, forward, kind, name)
        printed, answer = split_answer(result.output)
        text = printed.decode("utf-8", "replace").replace("\r\n", "\n")
        if result.output_truncated:
            text += OUTPUT_TRUNCATED.format(limit=self._board.device.max_output)
        elif modules:
            if answer is None:  # exec answers after all it printed: none, its output was cut short
                raise no_answer(self.port)
            adopt_modules(self.resources, answer)
        return text

    async def run_value(
        self, code: str, *, timeout: Timeout = DEFAULT, kind: str = "eval", name: str | None = None
    ) -> Any:
        """Run agent-level ``code`` that answers a value (see :mod:`belay.agent.answers`); return it. What
        the code printed on the way reaches ``on_output``."""
        deadline = Deadline.after(self._timeout(timeout, kind))
        result = await self._call(code, timeout, self.on_output, kind, name)
        truncated, port = result.output_truncated, self.port
        if len(result.output) <= INLINE_TEXT:  # short: parsed here, no thread, within microseconds
            return value_of(result.output, truncated=truncated, port=port)
        return await read_value(result.output, truncated=truncated, timeout=deadline.remaining(), port=port)

    async def _call(
        self, code: str, timeout: Timeout, forward: OutputCallback | None, kind: str, name: str | None
    ) -> CallResult:
        """One call for this session: what its code prints goes to ``forward``, the agent's
        answer is kept back in the result."""
        deadline = self._timeout(timeout, kind)
        seconds = math.inf if deadline is None else float(deadline)
        if self._releases:
            code = "\n".join([*self._releases, code])
            self._releases.clear()
        stream, what = AnswerStream(forward), kind if name is None else f"{kind} {name!r}"
        telemetry = self.telemetry
        if telemetry is None:
            return await self._on_board(
                lambda device: device.call(code, timeout=seconds, on_output=stream, what=what)
            )
        started = telemetry.call_started(kind, name)
        try:  # the calls before this one are recorded while its code crosses to the board
            result = await self._on_board(
                lambda device: device.call(
                    code, timeout=seconds, on_output=stream, meanwhile=telemetry.record, what=what
                )
            )
        except BaseException as error:
            telemetry.call_ended(started, kind, name, len(code), 0, error)
            raise
        telemetry.call_ended(started, kind, name, len(code), len(result.output))
        return result

    def _timeout(self, timeout: Timeout, kind: str) -> float | None:
        """A call's deadline: the one given, else ``bookkeeping_timeout`` for belay's file calls
        and ``call_timeout`` for the user's code."""
        if timeout is not DEFAULT:
            return timeout
        return self.options.bookkeeping_timeout if kind == "file" else self.options.call_timeout

    async def _on_board(self, call: Callable[[Device], Awaitable[T]]) -> T:
        """Make a call for this session: it must be active, its setups run first, a lost
        board moves it to LOST."""
        __tracebackhide__ = True
        self._check_active()
        self.last_used = self._clock()
        await self._run_setups()
        started = self._clock()  # the board stamps the session when the call starts
        logged_as = SESSION_ID.set(self.session_id)  # what is logged meanwhile names this session
        try:
            result = await call(self._board.device)
        except ConnectionLostError:
            self.mark_lost()  # (a reboot may have made it LOST already)
            raise
        except DeviceExecError as error:
            raise self._lost_if_gone(self._errors.explain(await self._why(error))) from None
        finally:
            SESSION_ID.reset(logged_as)
        self.renewed_at = started
        return result

    async def _run_setups(self) -> None:
        while self._setups:
            await self._setups.pop(0)()

    async def exec(
        self,
        code: str,
        *,
        timeout: Timeout = DEFAULT,
        on_output: OutputCallback | None = None,
        filename: str | None = None,
    ) -> str:
        """Run statements in this session's namespace (``__name__ == "__main__"``); return what
        they printed, which also reaches ``on_output`` (default: the session's) as it arrives.

        ``timeout`` overrides ``call_timeout`` (``None``: no deadline). ``filename``: the host
        file the code came from, so board tracebacks point at its lines.
        Raises :class:`~belay.errors.DeviceExecError` (with the board's traceback) if it
        raised, :class:`~belay.errors.DeviceTimeoutError` past its deadline.
        """
        with self._errors.script(filename):
            return await self.run(
                calls.exec_code(self.ref, code, self.capabilities.threads),
                timeout=timeout,
                on_output=on_output,
                modules=True,
            )

    async def eval(self, expression: str, *, timeout: Timeout = DEFAULT) -> Any:
        """The value of ``expression`` in this session's namespace, as a Python literal."""
        return await self.run_value(
            calls.eval_expression(self.ref, expression, self.capabilities.threads), timeout=timeout
        )

    async def proxy(self, expression: str, *, timeout: Timeout = DEFAULT) -> Any:
        """Evaluate ``expression`` on the board and keep the object there: always a
        :class:`~belay.session.functions.proxies.Proxy` of it (``await p.snapshot()`` copies it)."""
        from belay.session.functions import proxies

        return await proxies.evaluate(self, expression, timeout)

    async def output(self) -> str:
        """What this session's background threads and timers printed since the last look."""
        if not self.capabilities.threads:  # no background code, nothing kept
            self._check_active()
            return ""
        return str(await self.run_value(calls.output(self.ref)))

    # --- decorators -----------------------------------------------------------------------

    def task(
        self, function: Callable[..., Any] | None = None, *, source: str | None = None
    ) -> Task | GeneratorTask:
        """Run ``function`` (or the def in ``source``) on the board: ``await f(*args)``, or
        ``async for value in f(*args)`` for a generator; its source is sent once. Raises
        :class:`DeviceValueError` for what cannot run there (a closure variable, an ``async
        def``, source that is not available)."""
        return make_task(self, self.telemetry is not None, function, source)

    def thread(self, function: Callable[..., Any] | None = None, *, source: str | None = None) -> Thread:
        """Start ``function`` (or the def in ``source``) in a tracked background thread:
        ``await f(*args)``. Raises :class:`DeviceValueError` for a generator (a thread
        cannot yield to the host) and what :meth:`task` refuses."""
        return make_thread(self, self.telemetry is not None, function, source)

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
                    args: tuple[Any, ...] = (), timeout: Timeout = DEFAULT) -> Timer:  # fmt: skip
        """Call ``function(*args)`` on the board every ``period_ms``; tracked and removed at the end.

        Raises :class:`~belay.errors.DeviceCapabilityError` on a board with neither
        ``machine.Timer`` nor ``_thread``.
        """
        return await start_timer(self, function, period_ms, args, timeout)

    def next_name(self, prefix: str) -> str:
        """A name for a thread or timer, unique within this session (``blink-1``, ``timer-2``)."""
        self._names += 1
        return f"{prefix}-{self._names}"

    async def board_stats(self) -> dict[str, Any]:
        """This session's records as the agent keeps them on the board."""
        from belay.agent.stats_record import stats_record

        answer = await self.run_value(calls.stats(), timeout=self.options.bookkeeping_timeout)
        stats = stats_record(answer, self.port)
        record: dict[str, Any] = stats["sessions"].get(self.session_id, {})
        self.resources.update_thread_states({n: s for n, (s, _) in record.get("threads", {}).items()})
        adopt_modules(self.resources, list(record.get("modules", [])))
        return record

    def _check_active(self) -> None:
        if self._board.device.is_lost and self.state in (SessionState.ACTIVE, SessionState.CLOSING):
            self.state = next_state(self.state, SessionEvent.LOSE)
            raise ConnectionLostError(f"the board on {self.port} is gone", port=self.port)
        if self._board.device.reboots != self._boot and self.state in (
            SessionState.ACTIVE,
            SessionState.LOST,
        ):
            self.mark_lost()
            raise self._errors.rebooted()
        if self.state is not SessionState.ACTIVE and not (
            self.state is SessionState.CLOSING and self._teardowns
        ):
            raise SessionError(f"session {self.session_id} is {self.state.value}", session_id=self.session_id)

    def __repr__(self) -> str:
        return f"<DeviceSession {self.session_id} on {self.port} {self.state.value}>"
