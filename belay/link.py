"""One transport driven by one raw-REPL state machine: the I/O loop under :class:`Device`.

The link knows how to get the board to a raw prompt (:meth:`Link.sync`), run one call
(:meth:`Link.call`) and get a board back after a cancelled or failed call
(:meth:`Link.recover`). It has no lock and no policy; the device serialises calls.

It also counts the board's reboots (:attr:`Link.reboots`), however they are told: a board
that prints ``soft reboot`` (the protocol's :class:`~belay.protocol.events.Rebooted`), a
transport that raises ``ConnectionLostError(rebooted=True)``, or a :meth:`Link.soft_reset`.
A reboot that ends a call, or that happened since the last one, fails that call with
``ConnectionLostError(rebooted=True)``: what the call assumed was on the board is gone.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass

import anyio

from belay.errors import ConnectionLostError, DeviceTimeoutError, NotMicroPythonError, ProtocolError
from belay.link_text import SENT_EXCERPT as SENT_EXCERPT  # what errors quote, as tests read it
from belay.link_text import what_it_booted, what_it_sent
from belay.protocol import CallComplete, Output, RawRepl, Ready, Rebooted, State, Unsolicited, control
from belay.protocol.events import Event
from belay.transports.base import Transport

logger = logging.getLogger(__name__)

OutputCallback = Callable[[bytes], None]

MAX_OUTPUT_BYTES = 16 * 1024 * 1024
"""Output kept per call; more is streamed to the callback but not kept."""

SYNC_RETRY = 0.4
"""Seconds to wait for the banner before asking again (a board may drop input mid-reset)."""


POLL_READS = 16
"""Reads at most of what arrived between calls (a board printing without pause never ends)."""

INTERRUPT_GRACE = 0.3
"""Seconds a board gets to end an interrupted call by itself before the link resyncs, counted
from when the interrupt has left the host."""

DRAIN_LIMIT = 60.0
"""Seconds at most to wait for bytes already written to leave for the board (a slow line's
buffer) before the time a recovery allows the board itself starts."""

LET_GO_LIMIT = 1.0
"""Seconds at most that leaving a board at its friendly REPL may take (a board that stopped
reading is closed all the same)."""

PROBE_TRIES = 3
"""Echo calls a recovery makes at most to prove it is in step (each can absorb one stale
interrupt the board still held, or one false answer)."""


@dataclass(frozen=True, slots=True)
class CallResult:
    """What one call produced: its output (bounded), its stderr, and whether any was dropped."""

    output: bytes
    error: bytes
    output_truncated: bool = False
    error_truncated: bool = False


class _Collector:
    """Keeps a call's output within a bound while streaming all of it to a callback."""

    def __init__(self, on_output: OutputCallback | None, limit: int) -> None:
        self.on_output = on_output
        self.limit = limit
        self.parts = bytearray()
        self.truncated = False

    def add(self, data: bytes) -> None:
        if self.on_output is not None:
            self.on_output(data)
        room = self.limit - len(self.parts)
        self.parts += data[:room]
        self.truncated |= len(data) > room


class Link:
    """Bytes between a transport and a :class:`RawRepl`, with the waiting done right."""

    def __init__(
        self,
        transport: Transport,
        *,
        on_unsolicited: OutputCallback | None = None,
        max_output: int = MAX_OUTPUT_BYTES,
    ) -> None:
        self.transport = transport
        self.protocol = RawRepl()
        self.on_unsolicited = on_unsolicited
        self.max_output = max_output
        self.reboots = 0
        """Reboots of the board seen since the link opened."""
        self.last_reboot = ""
        """What the last of them looked like, said for an error (bounded, escaped)."""
        self.received = 0
        """Bytes received from the board since the link opened."""

    @property
    def ready(self) -> bool:
        """At the raw prompt, in step with the board: a call may start."""
        return self.protocol.state is State.IDLE and not self.protocol.out_of_step

    def reset(self) -> None:
        """Start the conversation over after a reboot the transport reported: a fresh protocol
        (what it learnt of the board is learnt again) awaiting the banner of a board that comes
        back to its raw prompt by itself; :meth:`sync` asks for one if none comes."""
        self.protocol = RawRepl()
        self.protocol.await_banner()

    def take_arrived(self) -> None:
        """Take in what the board sent since the last call (background output, or the late
        tail of a garbled answer, which puts the link out of step) without waiting.

        Raises ``ConnectionLostError(rebooted=True)`` if it says the board rebooted."""
        for _ in range(POLL_READS):
            data = self.transport.receive_nowait()
            if not data:
                return
            self.protocol.receive_data(data)
            self._dispatch(self.protocol.next_events(), None)

    async def sync(self, timeout: float) -> None:
        """Reach a fresh raw prompt within ``timeout`` s, asking again every ``SYNC_RETRY`` s:
        a board printing a banner or boot noise first, or resetting as the port opens (and
        dropping what it was sent meanwhile), is reached once it listens.

        Raises :class:`NotMicroPythonError` quoting the end of what the board sent (escaped,
        bounded), or :class:`ConnectionLostError` saying the same if the port closed first.
        """
        try:
            with anyio.move_on_after(timeout):
                while True:
                    self.protocol.sync()
                    await self._flush()
                    with anyio.move_on_after(SYNC_RETRY):
                        await self._pump_until(Ready, None)
                        return
        except ConnectionLostError as error:
            if error.rebooted:
                raise
            port = self.transport.port
            raise ConnectionLostError(
                f"{error}, before a MicroPython raw REPL answered{what_it_sent(self.protocol.discarded)}",
                port=port,
            ) from error
        seen = bytes(self.protocol.discarded)
        raise NotMicroPythonError(
            f"no MicroPython raw REPL answered on {self.transport.port} within {timeout:g}s"
            + what_it_sent(seen),
            port=self.transport.port,
            received=seen,
        )

    async def let_go(self) -> bool:
        """Leave the board at its friendly REPL for the next tool, as mpremote does: ctrl-B out
        of raw mode (no soft reset; threads and timers keep running), written and drained
        within ``LET_GO_LIMIT`` s. Only from the raw prompt: a board in a call, never reached
        or gone is left as it is. Whether ctrl-B left the host."""
        if self.protocol.state is not State.IDLE:
            return False
        self.protocol = RawRepl()  # what the board says next is not an answer to anything
        with anyio.move_on_after(LET_GO_LIMIT):
            try:
                await self.transport.send(control.EXIT_RAW)
                await self.transport.drain()
            except ConnectionLostError as error:
                logger.debug("the board on %s went while being let go: %s", self.transport.port, error)
                return False
            return True
        return False

    async def soft_reset(self, timeout: float) -> None:
        """Soft-reset the board from its raw prompt and wait until it is back there."""
        self.protocol.soft_reset()
        try:
            with anyio.fail_after(timeout):
                await self._flush()
                await self._pump_until(Ready, None)
        except TimeoutError as error:
            raise DeviceTimeoutError(
                f"the board on {self.transport.port} did not come back to the raw REPL within "
                f"{timeout:g}s of a soft reset",
                timeout=timeout,
                port=self.transport.port,
                cause=error,
            ) from None
        self.reboots += 1

    async def call(
        self,
        code: bytes,
        on_output: OutputCallback | None = None,
        *,
        raw_paste: bool = False,
        meanwhile: Callable[[], None] | None = None,
    ) -> CallResult:
        """Run ``code`` at the raw prompt and wait for its framing to end; ``meanwhile`` is
        called once the code is sent, while the board runs it (work the host would otherwise
        do between calls).

        Whatever background code printed since the last call arrives before ``OK`` and is
        handed to ``on_unsolicited`` on the way.
        """
        protocol = self.protocol
        protocol.start_call(code, raw_paste=raw_paste)
        await self._flush()
        if meanwhile is not None:
            meanwhile()
        collector = _Collector(on_output, self.max_output)
        transport = self.transport
        while True:  # _pump_until and _receive, inlined: the hot path
            try:
                data = await transport.receive()
            except ConnectionLostError as error:
                self._count_reported(error)
                raise
            self.received += len(data)
            protocol.receive_data(data)
            done = self._dispatch(protocol.next_events(), collector, CallComplete)
            if protocol.has_data_to_send:
                await self._flush()
            if done is not None:
                assert isinstance(done, CallComplete)
                output = bytes(collector.parts)
                return CallResult(output, done.error, collector.truncated, done.error_truncated)

    async def recover(self, timeout: float) -> None:
        """After a call was abandoned: interrupt it, then prove the board is back and in step.

        The interrupt goes out behind whatever of the call was already written (a serial
        adapter's buffer); the board's time starts once it has all left, and the board is read
        meanwhile. Then, always, a resync whose banner can only come after the interrupt was
        taken, and an echo call whose answer must be its own: nothing of the abandoned call (its
        answer, an error for the tail of its code, an interrupt the board still holds) can reach
        the next call. A board that answered before and does not come back is a
        :class:`DeviceTimeoutError` saying what arrived; one never synced with (or since it
        rebooted) stays a :class:`NotMicroPythonError`.
        """
        answered_before = self.protocol.state is not State.UNSYNCED
        received, started = self.received, anyio.current_time()
        if self.protocol.in_call:
            self.protocol.interrupt()
            await self._end_interrupted(timeout)
        try:
            await self._resync(timeout)
            if answered_before:  # a board first met has no earlier call to be out of step with
                await self._prove_in_step(timeout)
        except NotMicroPythonError as error:
            if not answered_before:
                raise
            raise self._not_back(timeout, received, started, error) from None

    async def _end_interrupted(self, timeout: float) -> None:
        """Send the interrupt, wait for it to leave, give the call a grace to end by itself."""
        try:
            await self._send_and_settle(timeout)
            if self.protocol.in_call:
                with anyio.move_on_after(min(INTERRUPT_GRACE, timeout)):
                    await self._pump_until(CallComplete, None)
        except ProtocolError as error:
            logger.debug("resyncing after a protocol error while interrupting: %s", error)

    async def _resync(self, timeout: float) -> None:
        """Reach a raw prompt asked for after everything written has left: each request is
        drained (the board read meanwhile) before its banner is waited for or asked again."""
        self.protocol.sync()
        await self._send_and_settle(timeout)
        with anyio.move_on_after(timeout):
            while self.protocol.state is not State.IDLE:
                with anyio.move_on_after(SYNC_RETRY):
                    await self._pump_until(Ready, None)
                    break
                self.protocol.sync()
                await self._send_and_settle(timeout)
        if self.protocol.state is not State.IDLE:
            raise self._no_answer("sent no raw REPL banner")

    async def _prove_in_step(self, timeout: float) -> None:
        """Echo calls until one answers with its own number and no error, each after a fresh
        resync: a stale frame or an interrupt the board still held is taken by an echo (and
        what follows it discarded by the resync), never by the next call."""
        for attempt in range(PROBE_TRIES):
            if attempt:
                await self._resync(timeout)
            nonce = secrets.randbelow(10**9)
            with anyio.move_on_after(timeout):
                result = await self.call(b"print(repr(%d\n))" % nonce)
                if result.output.strip() == b"%d" % nonce and not result.error:
                    return
                logger.debug("recovery echo answered %r %r: again", result.output[-80:], result.error[-80:])
        raise self._no_answer("never echoed in step")

    def _no_answer(self, what: str) -> NotMicroPythonError:
        port = self.transport.port
        return NotMicroPythonError(
            f"the board on {port} {what}", port=port, received=bytes(self.protocol.discarded)
        )

    def _not_back(
        self, timeout: float, received: int, started: float, cause: BaseException
    ) -> DeviceTimeoutError:
        """What a board that did not come back sent since the interrupt, said plainly."""
        count, seen = self.received - received, bytes(self.protocol.discarded)
        took = anyio.current_time() - started
        prompt = control.holds_prompt_fragment(seen)
        if not count:
            guess = "nothing came back: a busy loop with interrupts off, or a line that carries nothing back?"
        elif prompt:
            guess = "a prompt fragment arrived but never a whole banner (a garbled or slow line?)"
        else:
            guess = "no prompt among them: the board kept sending, or the port delivers slowly"
        return DeviceTimeoutError(
            f"the board on {self.transport.port} did not come back to the raw REPL within "
            f"{timeout:g}s of an interrupt ({took:.1f}s in all): {count} bytes arrived since"
            + (f", the last {seen[-60:]!r}" if seen else "")
            + f"; {guess}",
            timeout=timeout,
            port=self.transport.port,
            cause=cause,
        )

    async def _send_and_settle(self, timeout: float) -> None:
        """Write what the protocol queued (within ``timeout``: a board that stopped reading
        never takes it), then :meth:`_settle`."""
        with anyio.move_on_after(timeout):
            await self._flush()
        await self._settle()

    async def _settle(self) -> None:
        """Wait (at most ``DRAIN_LIMIT`` s) until what was written has left the host, reading
        and handing out what the board sends meanwhile (a board blocked writing reads nothing)."""
        lost: list[ConnectionLostError] = []
        async with anyio.create_task_group() as group:
            group.start_soon(self._read_meanwhile, lost, group.cancel_scope)
            with anyio.move_on_after(DRAIN_LIMIT):
                try:
                    await self.transport.drain()
                except ConnectionLostError as error:
                    self._count_reported(error)
                    lost.append(error)
            group.cancel_scope.cancel()
        if lost:
            raise lost[0]

    async def _read_meanwhile(self, lost: list[ConnectionLostError], scope: anyio.CancelScope) -> None:
        """Feed what arrives to the protocol; a garbled frame leaves it awaiting a banner (the
        resync that follows asks for one), a lost or rebooted board ends the wait."""
        try:
            while True:
                try:
                    self.protocol.receive_data(await self._receive())
                except ProtocolError as error:
                    logger.debug("discarding a garbled frame while draining: %s", error)
                    self.protocol.await_banner()
                self._dispatch(self.protocol.next_events(), None)
        except ConnectionLostError as error:
            lost.append(error)
            scope.cancel()

    async def _pump_until(self, wanted: type[Event], collector: _Collector | None) -> Event:
        while True:
            data = await self._receive()
            self.protocol.receive_data(data)
            found = self._dispatch(self.protocol.next_events(), collector, wanted)
            if self.protocol.has_data_to_send:
                await self._flush()
            if found is not None:
                return found

    def _dispatch(
        self, events: list[Event], collector: _Collector | None, wanted: type[Event] | None = None
    ) -> Event | None:
        """Hand out output; the ``wanted`` event if it came. A reboot before it raises."""
        found: Event | None = None
        rebooted = False
        for event in events:
            if isinstance(event, Output) and collector is not None:
                collector.add(event.data)
            elif isinstance(event, Unsolicited) and self.on_unsolicited is not None:
                self.on_unsolicited(event.data)
            elif isinstance(event, Rebooted):
                self._count_reboot(event)
                rebooted = rebooted or found is None
            elif wanted is not None and isinstance(event, wanted) and not rebooted:
                found = event
        if rebooted:
            raise self.rebooted_error()
        return found

    def _count_reboot(self, event: Rebooted) -> None:
        self.reboots += 1
        port = self.transport.port
        if event.seen:
            self.last_reboot = f"the board on {port} rebooted (a hard reset){what_it_booted(event.seen)}"
        else:
            self.last_reboot = f"the board on {port} soft-rebooted"
        logger.warning("%s", self.last_reboot)

    def rebooted_error(self) -> ConnectionLostError:
        """The error that tells a call the board rebooted under it (what it printed, bounded)."""
        port = self.transport.port
        return ConnectionLostError(
            self.last_reboot or f"the board on {port} rebooted", port=port, rebooted=True
        )

    async def _receive(self) -> bytes:
        try:
            data = await self.transport.receive()
        except ConnectionLostError as error:
            self._count_reported(error)
            raise
        self.received += len(data)
        return data

    async def _send(self, data: bytes) -> None:
        try:
            await self.transport.send(data)
        except ConnectionLostError as error:
            self._count_reported(error)
            raise

    def _count_reported(self, error: ConnectionLostError) -> None:
        if error.rebooted:
            self.reboots += 1
            self.last_reboot = str(error)
            self.reset()

    async def _flush(self) -> None:
        data = self.protocol.data_to_send()
        if not data:
            return
        pacing = self.transport.pacing
        if pacing is None or len(data) <= pacing.chunk_size or self.protocol.state is not State.AWAIT_OK:
            await self._send(data)
            return
        for start in range(0, len(data), pacing.chunk_size):
            if start:
                await anyio.sleep(pacing.delay)
            await self._send(data[start : start + pacing.chunk_size])
