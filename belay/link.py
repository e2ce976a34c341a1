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
from collections.abc import Callable
from dataclasses import dataclass

import anyio

from belay.errors import ConnectionLostError, DeviceTimeoutError, NotMicroPythonError, ProtocolError
from belay.protocol import CallComplete, Output, RawRepl, Ready, Rebooted, State, Unsolicited
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
"""Seconds a board gets to end an interrupted call by itself before the link resyncs."""


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
        """Reach a fresh raw prompt within ``timeout`` s, asking again every ``SYNC_RETRY`` s."""
        with anyio.move_on_after(timeout):
            while True:
                self.protocol.sync()
                await self._flush()
                with anyio.move_on_after(SYNC_RETRY):
                    await self._pump_until(Ready, None)
                    return
        seen = bytes(self.protocol.discarded)
        raise NotMicroPythonError(
            f"no MicroPython raw REPL answered on {self.transport.port} within {timeout:g}s"
            + (f" (it sent {seen[-120:]!r})" if seen else " (it sent nothing)"),
            port=self.transport.port,
            received=seen,
        )

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
            ) from error
        self.reboots += 1

    async def call(
        self, code: bytes, on_output: OutputCallback | None = None, *, raw_paste: bool = False
    ) -> CallResult:
        """Run ``code`` at the raw prompt and wait for its framing to end.

        Whatever background code printed since the last call arrives before ``OK`` and is
        handed to ``on_unsolicited`` on the way.
        """
        self.protocol.start_call(code, raw_paste=raw_paste)
        await self._flush()
        collector = _Collector(on_output, self.max_output)
        done = await self._pump_until(CallComplete, collector)
        assert isinstance(done, CallComplete)
        return CallResult(bytes(collector.parts), done.error, collector.truncated, done.error_truncated)

    async def recover(self, timeout: float) -> None:
        """After a call was abandoned: interrupt it, and resync if it does not end by itself.

        A board that answered before and does not come back is a :class:`DeviceTimeoutError`;
        one never synced with (or since it rebooted) stays a :class:`NotMicroPythonError`.
        """
        answered_before = self.protocol.state is not State.UNSYNCED
        if self.protocol.in_call:
            self.protocol.interrupt()
            try:  # the write is bounded too: a board that stopped reading never takes it
                with anyio.move_on_after(min(INTERRUPT_GRACE, timeout)):
                    await self._flush()
                    await self._pump_until(CallComplete, None)
                    return
            except ProtocolError as error:
                logger.debug("resyncing after a protocol error while interrupting: %s", error)
        try:
            await self.sync(timeout)
        except NotMicroPythonError as error:
            if not answered_before:
                raise
            raise DeviceTimeoutError(
                f"the board on {self.transport.port} did not come back to the raw REPL within "
                f"{timeout:g}s of an interrupt (a busy loop with interrupts off?)",
                timeout=timeout,
            ) from error

    async def _pump_until(self, wanted: type[Event], collector: _Collector | None) -> Event:
        while True:
            data = await self._receive()
            self.protocol.receive_data(data)
            found = self._dispatch(self.protocol.next_events(), collector, wanted)
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
                self.reboots += 1
                rebooted = rebooted or found is None
            elif wanted is not None and isinstance(event, wanted) and not rebooted:
                found = event
        if rebooted:
            port = self.transport.port
            raise ConnectionLostError(f"the board on {port} soft-rebooted", port=port, rebooted=True)
        return found

    async def _receive(self) -> bytes:
        try:
            return await self.transport.receive()
        except ConnectionLostError as error:
            self._count_reported(error)
            raise

    async def _send(self, data: bytes) -> None:
        try:
            await self.transport.send(data)
        except ConnectionLostError as error:
            self._count_reported(error)
            raise

    def _count_reported(self, error: ConnectionLostError) -> None:
        if error.rebooted:
            self.reboots += 1
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
