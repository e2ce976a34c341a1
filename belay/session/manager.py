"""The session manager: owns boards and sessions' lifetimes, and nothing else."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
from anyio.abc import AsyncResource

from belay.agent import calls
from belay.device import Device
from belay.errors import (
    ConnectionLostError,
    PortNotFoundError,
    ResourceCleanupError,
    SessionError,
    SessionLimitError,
)
from belay.journal import Journal, board_fields, open_journal
from belay.link import OutputCallback
from belay.log import for_session
from belay.options import SessionOptions
from belay.session.board import Board
from belay.session.opening import end_if_begun
from belay.session.output import STDOUT
from belay.session.reaping import journal_reaped, reap_board
from belay.session.records import ReapedSession, SessionStats
from belay.session.session import DeviceSession
from belay.session.state import ManagerEvent, ManagerState, SessionState, next_manager_state
from belay.transports import LabOptions, ModemLines, TransportFactory, open_transport, with_lines

if TYPE_CHECKING:  # OpenTelemetry, and tenacity, are imported where they are used
    from opentelemetry.metrics import Meter
    from opentelemetry.trace import Tracer

    from belay.telemetry import SessionTelemetry, Telemetry

logger = logging.getLogger(__name__)
T = TypeVar("T")
DeviceOpener = Callable[[str, SessionOptions], Awaitable[Device]]


async def open_device(
    port: str,
    options: SessionOptions,
    transport_factory: TransportFactory = open_transport,
    *,
    reset_if_full: bool = False,
    detect: bool = True,
) -> Device:
    """Open the board on ``port`` with the bookkeeping and sync timeouts, the DTR/RTS levels and
    the lab settings of ``options`` (soft-reset first if it is too full to be probed, with ``reset_if_full``):
    a call given no deadline is belay's own; a session gives its users' calls theirs."""
    lines = ModemLines(dtr=options.dtr, rts=options.rts)
    factory = with_lines(transport_factory, lines, LabOptions.of(options))
    return await Device.open(
        port, transport_factory=factory, call_timeout=options.bookkeeping_timeout,
        sync_timeout=options.sync_timeout, reset_if_full=reset_if_full, make_room=reap_expired,
        detect=detect,
    )  # fmt: skip


async def reap_expired(device: Device) -> None:
    """Free a board too full to be probed of the sessions whose leases ran out (what they held
    is reported by the next session's begin, as for any reaped session)."""
    logger.info("the board on %s is nearly full: ending its sessions whose leases ran out", device.port)
    await device.call(calls.reap_expired())


def _retryable(error: BaseException) -> bool:
    return isinstance(error, ConnectionLostError) or (isinstance(error, SessionError) and error.recoverable)


class DeviceSessionManager(AsyncResource):
    """Opens boards once and keeps them for its lifetime; hands out sessions on them.

    ``async with DeviceSessionManager(options) as manager:`` then
    ``async with manager.session(port) as session:``.
    """

    def __init__(
        self,
        options: SessionOptions | None = None,
        *,
        device_opener: DeviceOpener = open_device,
        id_generator: Callable[[], str] = lambda: secrets.token_hex(6),
        token_generator: Callable[[], str] = lambda: secrets.token_urlsafe(8),
        clock: Callable[[], float] = time.monotonic,
        journal: Journal | None = None,
        meter: Meter | None = None,
        tracer: Tracer | None = None,
    ) -> None:
        self.options = options or SessionOptions()
        self._meter, self._tracer = meter, tracer  # for sessions with enable_metrics
        self._telemetry: Telemetry | None = None
        self._reaped: set[str] = set()  # ids of this manager's sessions the board reaped
        self.state = ManagerState.INACTIVE
        self.journal = (
            journal
            if journal is not None
            else open_journal(self.options.journal_path, self.options.journal_max_bytes)
        )
        self._open_device = device_opener
        self._new_id = id_generator
        self._new_token = token_generator
        self._clock = clock
        self._boards: dict[str, Board] = {}
        self._board_locks: dict[str, anyio.Lock] = {}
        self._sessions: dict[str, DeviceSession] = {}
        self._orphans: dict[str, dict[str, str]] = {}  # port -> token -> id, left by lost boards
        self._opening = 0
        self._total = 0
        self._max_active = 0
        self._slot_freed = anyio.Event()
        self._stack: AsyncExitStack | None = None

    # --- lifetime -----------------------------------------------------------------------

    async def __aenter__(self) -> DeviceSessionManager:
        self.state = next_manager_state(self.state, ManagerEvent.START)
        async with AsyncExitStack() as stack:
            tasks = await stack.enter_async_context(anyio.create_task_group())
            tasks.start_soon(self._keep_sessions)
            stack.callback(tasks.cancel_scope.cancel)  # runs first on exit: upkeep stops
            self._stack = stack.pop_all()
        return self

    async def aclose(self) -> None:
        await self.shutdown()

    async def shutdown(self) -> None:
        """End every session, close every board, stop background work."""
        if self.state is not ManagerState.ACTIVE:
            return
        self.state = next_manager_state(self.state, ManagerEvent.SHUTDOWN)
        with anyio.CancelScope(shield=True):
            for session_id in list(self._sessions):
                try:
                    await self.end_session(session_id)
                except ResourceCleanupError as error:
                    logger.warning("%s", error)
            for board in self._boards.values():
                await board.aclose()
            self._boards.clear()
        if self._stack is not None:
            await self._stack.aclose()
        self.state = next_manager_state(self.state, ManagerEvent.DISPOSE)

    # --- sessions -----------------------------------------------------------------------

    @asynccontextmanager
    async def session(
        self, port: str, *, on_output: OutputCallback | None = STDOUT, **options: Any
    ) -> AsyncIterator[DeviceSession]:
        """A session on ``port`` for the block; ended (cleaned up on the board) when it exits.

        ``on_output`` receives what the session's code prints, as bytes, as it arrives
        (default: the host's standard output; ``None``: dropped). ``options`` override
        :class:`SessionOptions` fields for this session.
        """
        session = await self.create_session(port, on_output=on_output, **options)
        try:
            yield session
        except BaseException:
            try:
                await self.end_session(session.session_id)
            except ResourceCleanupError as error:
                logger.warning("cleanup after a failed block: %s", error)
            raise
        await self.end_session(session.session_id)

    async def create_session(
        self, port: str, *, on_output: OutputCallback | None = STDOUT, **options: Any
    ) -> DeviceSession:
        """Open a session on ``port`` (opening the board on first use); end it with
        :meth:`end_session`. Raises :class:`SessionLimitError` when no slot is free."""
        if self.state is not ManagerState.ACTIVE:
            raise SessionError(f"the manager is {self.state.value}: use it in `async with`")
        session_options = SessionOptions.from_mapping(options, base=self.options) if options else self.options
        telemetry = self._instruments().session(port) if session_options.enable_metrics else None
        try:
            session = await self._new_session(port, session_options, on_output, telemetry)
        except BaseException as error:
            if telemetry is not None:
                telemetry.failed_to_begin(error)
            raise
        if telemetry is not None:
            telemetry.began(session.session_id, board_fields(session.device_info))
        return session

    async def _new_session(
        self, port: str, session_options: SessionOptions, on_output: OutputCallback | None,
        telemetry: SessionTelemetry | None,
    ) -> DeviceSession:  # fmt: skip
        await self._take_slot()
        try:
            board = await self._board(port)
        except BaseException:
            self._opening -= 1
            self._wake_waiters()
            raise
        self._opening -= 1
        token = board.token_with_a_free_handle(self._new_token())  # then registered: no await between
        session = DeviceSession(
            board, self._new_id(), session_options, self._clock, token, on_output=on_output,
            telemetry=telemetry,
        )  # fmt: skip
        self._sessions[session.session_id] = session
        board.sessions[session.session_id] = session
        self._total += 1
        self._max_active = max(self._max_active, len(self._active()))
        try:
            with for_session(session.session_id):
                reaped = await self._begin(session, board)
        except BaseException as error:
            if not isinstance(error, SessionLimitError):  # cancelled or failed once sent: ended there too
                await end_if_begun(board, session.token, session_options.cleanup_timeout)
            self._forget(session)
            raise
        self._journal_reaped(port, reaped)
        self.journal.record("begin", port=port, session_id=session.session_id, lease=session_options.lease,
                            board=board_fields(session.device_info))  # fmt: skip
        return session

    def _instruments(self) -> Telemetry:
        """The manager's instruments, made on first use (only sessions with metrics use them)."""
        if self._telemetry is None:
            from belay.telemetry import Telemetry

            self._telemetry = Telemetry(self._meter, self._tracer)
        return self._telemetry

    def _journal_reaped(self, port: str, reaped: list[ReapedSession]) -> None:
        """Journal (and count) the sessions the board reaped; this manager's own among them (its
        host went silent past their lease) are LOST, and end as reaped."""
        journal_reaped(self.journal, port, reaped)
        own = [item.session_id for item in reaped if item.session_id in self._sessions]
        for session_id in own:  # the board holds nothing of them any more
            self._reaped.add(session_id)
            self._sessions[session_id].mark_lost()
        if len(reaped) > len(own) and self.options.enable_metrics:
            self._instruments().reaped(len(reaped) - len(own))

    async def _begin(self, session: DeviceSession, board: Board) -> list[ReapedSession]:
        """Begin ``session``; a board with no room for it refuses it (``SessionLimitError``),
        or, with ``wait_for_session_slot``, it waits until one of this manager's sessions
        there ends."""
        while True:
            try:
                return await session.begin()
            except SessionLimitError:
                others = [s for s in board.sessions if s != session.session_id]
                if not (session.options.wait_for_session_slot and others):
                    raise
            await self._slot_freed.wait()

    async def end_session(self, session_id: str) -> None:
        """End one session: its resources are removed from the board."""
        session = self.get_session(session_id)
        held = session.resources.stats().by_type
        failures: list[tuple[str, BaseException]] = []
        try:
            with for_session(session_id):
                await session.close()
        except ResourceCleanupError as error:
            failures = error.failures
            raise
        finally:
            self._forget(session)
            self._ended(session, held, failures)

    def _ended(
        self, session: DeviceSession, held: dict[str, int], failures: list[tuple[str, BaseException]]
    ) -> None:
        """Journal (and count) how ``session`` ended: lost, failed (``failures``) or closed."""
        outcome = "lost" if session.state is SessionState.LOST else "failed" if failures else "closed"
        if session.session_id in self._reaped:
            self._reaped.discard(session.session_id)
            outcome = "reaped"
        if session.telemetry is not None:
            session.telemetry.ended(outcome, len(failures))
        self.journal.record(
            "end", port=session.port, session_id=session.session_id, outcome=outcome,
            state=session.state.value, board=board_fields(session.device_info), resources=held,
            duration_s=round(time.time() - session.created_at, 3),
            problems=[f"{what}: {failure}" for what, failure in failures],
        )  # fmt: skip

    async def reap(self, port: str) -> list[ReapedSession]:
        """End the sessions on ``port``'s board whose leases ran out (their hosts went silent),
        with those the board reaped by itself since a host last asked; each is journaled."""
        board = await self._board(port)
        reaped = await reap_board(board.device)
        self._journal_reaped(port, reaped)
        return reaped

    def get_session(self, session_id: str) -> DeviceSession:
        try:
            return self._sessions[session_id]
        except KeyError:
            raise SessionError(f"no session {session_id!r} in this manager", session_id=session_id) from None

    def list_sessions(self, state: SessionState | None = None) -> list[DeviceSession]:
        return [s for s in self._sessions.values() if state is None or s.state is state]

    async def execute_in_session(
        self, port: str, operation: Callable[[DeviceSession], Awaitable[T]], retries: int = 3
    ) -> T:
        """Run ``operation`` in a fresh session, retrying with exponential backoff when the
        failure is recoverable (a lost board, a full manager, the port of a board lost here
        missing while it comes back)."""
        from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

        def retryable(error: BaseException) -> bool:
            return _retryable(error) or (isinstance(error, PortNotFoundError) and port in self._orphans)

        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(retries + 1),
            wait=wait_exponential(multiplier=0.05, max=2.0),
            retry=retry_if_exception(retryable),
            reraise=True,
        ):
            with attempt:
                async with self.session(port) as session:
                    return await operation(session)
        raise AssertionError("unreachable")  # pragma: no cover

    async def stats(self) -> SessionStats:
        return SessionStats(active=len(self._active()), total=self._total, max_active=self._max_active)

    def board(self, port: str) -> Board | None:
        """The open board on ``port``, if any."""
        return self._boards.get(port)

    # --- internals ----------------------------------------------------------------------

    def _active(self) -> list[DeviceSession]:
        return [s for s in self._sessions.values() if s.state in (SessionState.CREATED, SessionState.ACTIVE)]

    async def _take_slot(self) -> None:
        """Wait for (or refuse) a session slot, then hold it: ``_opening`` counts sessions
        whose board is still being opened, so two openings never take one last slot."""
        limit = self.options.max_concurrent_sessions
        while len(self._sessions) + self._opening >= limit:
            if not self.options.wait_for_session_slot:
                raise SessionLimitError(f"{limit} sessions are open already", limit=limit)
            await self._slot_freed.wait()
        self._opening += 1

    def _forget(self, session: DeviceSession) -> None:
        self._sessions.pop(session.session_id, None)
        board = self._boards.get(session.port)
        if board is not None:
            board.sessions.pop(session.session_id, None)
        if session.state is SessionState.LOST and session.board.device.is_lost:
            self._orphans.setdefault(session.port, {})[session.token] = session.session_id
            self.journal.record("lost", port=session.port, session_id=session.session_id)
        self._wake_waiters()

    def _wake_waiters(self) -> None:
        """A slot may be free: sessions waiting for one look again."""
        self._slot_freed.set()
        self._slot_freed = anyio.Event()

    async def _board(self, port: str) -> Board:
        """The board on ``port``, opened with the manager's options: its sessions share the
        device, and a session's own ``call_timeout`` bounds that session's calls only. A board
        lost, or whose port hung up (unplugged, perhaps back under the same path), is opened
        again; the sessions that were on it are LOST."""
        lock = self._board_locks.setdefault(port, anyio.Lock())
        async with lock:
            board = self._boards.get(port)
            if board is not None and (board.device.is_lost or board.device.transport.hung_up()):
                del self._boards[port]  # lost once: a failed reopen does not lose it again
                self._lose_board(board)
                await board.aclose()
                board = None
            if board is None:
                device = await self._open_device(port, self.options)
                board = self._boards[port] = Board(device, orphans=self._orphans.pop(port, {}))
            return board

    def _lose_board(self, board: Board) -> None:
        """The connection to ``board`` is gone: its sessions are lost, and their tokens kept so
        that what they left is ended if the board comes back without a reboot."""
        orphans = self._orphans.setdefault(board.port, {})
        for session in list(self._sessions.values()):
            if session.board is board and session.state is not SessionState.CLOSED:
                session.mark_lost()
                orphans[session.token] = session.session_id
        logger.info("the board on %s was lost with %d sessions", board.port, len(orphans))
        self.journal.record("board-lost", port=board.port, sessions=sorted(orphans.values()))

    async def _keep_sessions(self) -> None:
        """End sessions idle past ``session_timeout``; renew the others' leases on the board
        (every third of the shortest lease, each session's own options counting)."""
        while True:
            active = self.list_sessions(SessionState.ACTIVE)
            options = [self.options, *(session.options for session in active)]
            await anyio.sleep(max(0.05, min(min(o.lease / 3, o.session_timeout / 2) for o in options)))
            for session in self.list_sessions(SessionState.ACTIVE):
                with for_session(session.session_id):
                    try:
                        await self._upkeep(session)
                    except Exception as error:  # background upkeep never brings the manager down
                        logger.warning("upkeep of session %s failed: %s", session.session_id, error)

    async def _upkeep(self, session: DeviceSession) -> None:
        if self._clock() - session.last_used > session.options.session_timeout:
            logger.info("ending idle session %s", session.session_id)
            await self.end_session(session.session_id)
        elif self._clock() - session.renewed_at > session.options.lease / 3:
            await session.renew_lease()
