"""One open board: calls serialised by a lock, deadlines, interrupts, capabilities.

>>> async with await Device.open("unix") as device:
...     await device.exec("print('hi')")
...     assert await device.eval("1 + 1") == 2
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import anyio
from anyio.abc import AsyncResource

from belay.agent.sources import minified_device_file
from belay.board_info import Capabilities, DeviceInfo, parse_probe
from belay.deadline import Deadline
from belay.errors import (
    BoardOutOfMemoryError,
    ConnectionLostError,
    DeviceExecError,
    DeviceTimeoutError,
    DeviceValueError,
    ProtocolError,
)
from belay.heap import FIT_CHECK_ABOVE, HEAP_QUERY, check_fits, heap_room
from belay.link import MAX_OUTPUT_BYTES, CallResult, Link, OutputCallback
from belay.payloads import encode_code, not_an_expression, read_last_line_value, remote_error
from belay.transports import TransportFactory, open_transport
from belay.transports.base import Transport

logger = logging.getLogger(__name__)

OUTPUT_TRUNCATED = "\n[belay: output truncated: a call keeps at most {limit} bytes]\n"
"""Ends the text :meth:`Device.exec` returns when the call printed more than it keeps."""
NO_DEADLINE = Deadline.never()
RoomMaker = Callable[["Device"], Awaitable[None]]
"""Frees heap on a board too full to be probed (the session layer reaps expired sessions)."""


ESCAPED_MOST, ESCAPE_WRAPPER = 4, 9
"""Code escaped for the raw REPL is at most 4 bytes a byte plus ``exec(b'')``: shorter code
never needs the heap check (:func:`~belay.heap.check_fits`)."""


class Device(AsyncResource):
    """An open connection to one board, shared safely by many tasks.

    ``call_timeout`` is the default deadline of a call in seconds (``None``: none);
    ``recover_timeout`` bounds getting the board back after an interrupted call.

    A reboot of the board (a soft reset, ``sys.exit()``, a virtual board's restart) fails the
    call it ended, or the first call after it, with ``ConnectionLostError(rebooted=True)``,
    and counts in :attr:`reboots`; the device stays usable.
    """

    def __init__(
        self,
        link: Link,
        *,
        call_timeout: float | None = None,
        sync_timeout: float = 5.0,
        recover_timeout: float = 5.0,
    ) -> None:
        self._link = link
        self._lock = anyio.Lock(fast_acquire=True)
        self.call_timeout = call_timeout
        self.sync_timeout = sync_timeout
        self.recover_timeout = recover_timeout
        self._lost: ConnectionLostError | None = None
        self._closed = False
        self.reboot_listeners: list[Callable[[str], None]] = []
        """Told (with what the reboot looked like) as soon as a call finds the board rebooted."""
        self._info: DeviceInfo | None = None
        self._capabilities: Capabilities | None = None

    @classmethod
    async def open(
        cls,
        port: str,
        *,
        transport_factory: TransportFactory = open_transport,
        call_timeout: float | None = None,
        sync_timeout: float = 5.0,
        on_unsolicited: OutputCallback | None = None,
        max_output: int = MAX_OUTPUT_BYTES,
        recover_timeout: float | None = None,
        reset_if_full: bool = False,
        make_room: RoomMaker | None = None,
        detect: bool = True,
    ) -> Device:
        """Open ``port``, reach its raw REPL and detect what it is, or fail with a clear error.

        ``max_output`` bounds the output kept per call (all of it still streams to ``on_output``);
        ``recover_timeout`` (default: ``sync_timeout``) bounds getting the board back after an
        interrupted call. A board whose heap is too full to take the capability probe raises
        :class:`BoardOutOfMemoryError`, or is soft-reset first with ``reset_if_full``;
        ``make_room`` is given the chance to free some first (e.g. reap expired sessions).
        ``detect=False`` skips the probe (``info`` and ``capabilities`` stay unknown): what
        resetting a board too full to take it needs.
        """
        transport = await transport_factory(port)
        recover = sync_timeout if recover_timeout is None else recover_timeout
        device = cls.over(transport, call_timeout=call_timeout, sync_timeout=sync_timeout,
                          recover_timeout=recover, on_unsolicited=on_unsolicited,
                          max_output=max_output)  # fmt: skip
        try:
            async with device._lock:
                await device._link.sync(sync_timeout)
            if detect:
                await device.detect(reset_if_full=reset_if_full, make_room=make_room)
        except BaseException:
            await device.aclose()  # left at its friendly REPL where it was reached
            raise
        return device

    @classmethod
    def over(cls, transport: Transport, *, on_unsolicited: OutputCallback | None = None,
             max_output: int = MAX_OUTPUT_BYTES, **options: Any) -> Device:  # fmt: skip
        """A device on an already open transport (it is synced on first use)."""
        return cls(Link(transport, on_unsolicited=on_unsolicited, max_output=max_output), **options)

    # --- identity ---------------------------------------------------------------------

    @property
    def port(self) -> str:
        return self._link.transport.port

    @property
    def transport(self) -> Transport:
        return self._link.transport

    @property
    def info(self) -> DeviceInfo:
        if self._info is None:
            raise RuntimeError("device not detected yet: call detect()")
        return self._info

    @property
    def capabilities(self) -> Capabilities:
        if self._capabilities is None:
            raise RuntimeError("device not detected yet: call detect()")
        return self._capabilities

    @property
    def max_output(self) -> int:
        """Bytes of output kept per call; more is streamed to ``on_output`` and marked truncated."""
        return self._link.max_output

    @property
    def is_lost(self) -> bool:
        return self._lost is not None

    @property
    def reboots(self) -> int:
        """Reboots seen since the device opened (what a board held is gone after each)."""
        return self._link.reboots

    @property
    def last_reboot(self) -> str:
        """What the last reboot looked like (``""`` before any): for messages."""
        return self._link.last_reboot

    async def detect(
        self, *, reset_if_full: bool = False, make_room: RoomMaker | None = None
    ) -> tuple[DeviceInfo, Capabilities]:
        """Learn the board's identity and capabilities in one round trip (a raw-paste try),
        after a short one that shows the probe fits the board's heap: code a nearly full
        micro:bit cannot buffer halts its REPL for good.

        Raises :class:`BoardOutOfMemoryError` when it does not fit (``reset_if_full``: the board
        is soft-reset and probed), :class:`DeviceTimeoutError` past ``sync_timeout`` each.
        ``make_room`` runs first when the probe does not fit (its own failures are logged).
        """
        probe_code = minified_device_file("probe.py")
        if not await self._fits(probe_code) and not await self._made_room(make_room, probe_code):
            if not reset_if_full:
                raise BoardOutOfMemoryError(
                    f"the board on {self.port} is out of memory: it cannot take belay's "
                    f"{len(probe_code)}-byte capability probe (belay reset, belay reap --all or "
                    "belay clean --force soft-reset it)",
                    port=self.port,
                )
            logger.warning("the board on %s is out of memory: soft-resetting it", self.port)
            await self.soft_reset()
        deadline = Deadline.after(2 * self.sync_timeout)
        result = await self.call(probe_code, raw_paste=True, timeout=2 * self.sync_timeout)
        probe = await read_last_line_value(result, timeout=deadline.remaining())
        raw_paste = bool(self._link.protocol.raw_paste_supported)
        self._info, self._capabilities = parse_probe(self.port, probe, raw_paste)
        logger.info("opened %s", self._info.describe())
        return self._info, self._capabilities

    async def _made_room(self, make_room: RoomMaker | None, code: bytes) -> bool:
        """Whether ``make_room`` freed enough of the heap for ``code``."""
        if make_room is None:
            return False
        try:
            await make_room(self)
        except DeviceExecError as error:
            logger.info("could not make room on %s: %s", self.port, error)
            return False
        return await self._fits(code)

    async def _fits(self, code: bytes) -> bool:
        """Whether the board's largest free heap block holds ``code`` twice over (its input
        buffer grows by copying) and it can compile a short call at all."""
        try:
            found = await self.call(HEAP_QUERY, timeout=self.sync_timeout)
        except DeviceExecError as error:
            if error.remote_type == "MemoryError":
                return False
            raise
        room = heap_room(found.output)
        return room is None or room >= 2 * len(code)

    # --- calls ------------------------------------------------------------------------

    async def exec(
        self,
        code: str | bytes,
        *,
        timeout: float | None = None,
        on_output: OutputCallback | None = None,
    ) -> str:
        """Run statements; return what they printed. Raises :class:`DeviceExecError` if they raised.

        Output beyond :attr:`max_output` is not kept: the text returned ends with
        :data:`OUTPUT_TRUNCATED` instead (``on_output`` still receives all of it).
        """
        result = await self.call(code, timeout=timeout, on_output=on_output)
        text = result.output.decode("utf-8", "replace").replace("\r\n", "\n")
        if result.output_truncated:
            logger.warning("output of a call on %s exceeded %d bytes: truncated", self.port, self.max_output)
            text += OUTPUT_TRUNCATED.format(limit=self.max_output)
        return text

    async def eval(self, expression: str, *, timeout: float | None = None) -> Any:
        """The value of ``expression`` on the board, read back as a Python literal (never
        evaluated): :class:`DeviceValueError` when it is not one or too large,
        :class:`DeviceTimeoutError` when the call and reading the value take over ``timeout``."""
        problem = not_an_expression(expression)
        if problem is not None:
            raise DeviceValueError(problem)
        deadline = self._deadline(timeout)
        result = await self.call(f"print(repr({expression}\n))", timeout=timeout)
        return await read_last_line_value(result, timeout=deadline.remaining())

    async def eval_code(self, code: str | bytes, *, timeout: float | None = None) -> Any:
        """Run statements that print one value with ``repr()``; return that value."""
        deadline = self._deadline(timeout)
        result = await self.call(code, timeout=timeout)
        return await read_last_line_value(result, timeout=deadline.remaining())

    async def soft_reset(self, *, timeout: float = 10.0) -> None:
        """Soft-reset the board: whatever it held in RAM is gone; its files stay."""
        async with self._lock:
            try:
                await self._ready()
            except ConnectionLostError as error:
                if not error.rebooted:
                    raise
                await self._ready()  # it rebooted since the last call: reset it all the same
            try:
                await self._link.soft_reset(timeout)
            except ConnectionLostError as error:  # a transport that reports the reboot itself
                self._on_lost(error)
                if not error.rebooted:
                    raise
                await self._link.sync(self.sync_timeout)

    async def call(
        self,
        code: str | bytes,
        *,
        timeout: float | None = None,
        on_output: OutputCallback | None = None,
        raw_paste: bool | None = None,
        meanwhile: Callable[[], None] | None = None,
        what: str = "call",
    ) -> CallResult:
        """Run ``code`` as one raw-REPL call under the lock, with a deadline and clean interrupt;
        ``meanwhile`` is called once the code is sent, while the board runs it. ``what`` names
        the call in a :class:`DeviceTimeoutError` (``"exec"``, ``"task 'add'"``)."""
        # A checkpoint, as every anyio operation is: when the board's answer is already waiting
        # (a loaded host, a fast board) the call would otherwise never yield, starving the
        # loop's other tasks and letting no cancel land. Before the deadline starts.
        await anyio.lowlevel.checkpoint()
        payload = encode_code(code)
        deadline = self._deadline(timeout)
        if deadline.unbounded:  # the hot path: no scope to wait in
            await self._lock.acquire()
        else:
            await self._acquire(deadline)
        try:
            await self._ready(deadline)
            use_paste = self._use_raw_paste(payload) if raw_paste is None else raw_paste
            if not use_paste and ESCAPED_MOST * len(payload) + ESCAPE_WRAPPER > FIT_CHECK_ABOVE:
                query = functools.partial(self._guarded, on_output=None, deadline=deadline, raw_paste=False)
                await check_fits(payload, query, self.port)
            result = await self._guarded(
                payload, on_output=on_output, deadline=deadline, raw_paste=use_paste, meanwhile=meanwhile,
                what=what,
            )  # fmt: skip
        finally:
            self._lock.release()
        if result.error:
            raise remote_error(result.error, truncated=result.error_truncated)
        return result

    def _deadline(self, timeout: float | None) -> Deadline:
        seconds = self.call_timeout if timeout is None else timeout
        return NO_DEADLINE if seconds is None else Deadline.after(seconds)

    async def call_each(
        self, codes: Sequence[str | bytes], *, timeout: float | None = None
    ) -> list[CallResult]:
        """Short calls back to back under one hold of the lock (no other call comes between
        them), within one ``timeout``; the first that raises on the board ends the run."""
        deadline = self._deadline(timeout)
        await self._acquire(deadline)
        results = []
        try:
            for code in codes:
                await self._ready(deadline)
                result = await self._guarded(
                    encode_code(code), on_output=None, deadline=deadline, raw_paste=False
                )
                if result.error:
                    raise remote_error(result.error, truncated=result.error_truncated)
                results.append(result)
        finally:
            self._lock.release()
        return results

    async def _acquire(self, deadline: Deadline) -> None:
        """Take the lock by ``deadline``; running out while queued touches nothing on the board."""
        try:
            with deadline.scope():
                await self._lock.acquire()
        except TimeoutError as error:
            raise DeviceTimeoutError(
                f"call on {self.port} waited {deadline} for the board and never started",
                timeout=deadline.budget,
                port=self.port,
                cause=error,
            ) from None

    async def _guarded(
        self,
        payload: bytes,
        *,
        on_output: OutputCallback | None,
        deadline: Deadline,
        raw_paste: bool,
        meanwhile: Callable[[], None] | None = None,
        what: str = "call",
    ) -> CallResult:
        """Run the call by ``deadline``; interrupt the board if the call is abandoned."""
        finished = False
        link = self._link
        try:
            if deadline.unbounded:  # the hot path: no scope to enter
                result = await link.call(payload, on_output, raw_paste=raw_paste, meanwhile=meanwhile)
            else:
                with deadline.scope():
                    result = await link.call(payload, on_output, raw_paste=raw_paste, meanwhile=meanwhile)
            finished = True
            return result
        except TimeoutError as error:
            logger.debug("%s on %s timed out", what, self.port, exc_info=error)
            raise DeviceTimeoutError(
                f"{what} on {self.port} did not finish within {deadline}; it was interrupted",
                timeout=deadline.budget,
                port=self.port,
                cause=error,
            ) from None
        except ConnectionLostError as error:
            self._on_lost(error)
            finished = True
            raise
        except ProtocolError as error:  # garbled framing: boot noise of a board that reset?
            reboots, finished = link.reboots, True
            await self._recover()
            if link.reboots != reboots:
                raise link.rebooted_error() from error
            raise
        finally:
            if not finished:
                await self._recover()

    async def _recover(self) -> None:
        with anyio.CancelScope(shield=True):
            try:
                await self._link.recover(self.recover_timeout)
            except ConnectionLostError as error:
                self._on_lost(error)
            except (DeviceTimeoutError, ProtocolError) as error:
                logger.warning("board on %s not recovered yet: %s", self.port, error)

    async def _ready(self, deadline: Deadline = NO_DEADLINE) -> None:
        """Fail on a closed or lost board, or one that rebooted since the last call; get an
        unsynced one back to its raw prompt by ``deadline``."""
        if self._closed:
            raise ConnectionLostError(f"device on {self.port} is closed", port=self.port)
        if self._lost is not None:
            raise ConnectionLostError(f"the board on {self.port} is gone: {self._lost}", port=self.port)
        try:
            self._link.take_arrived()
            if not self._link.ready:
                await self._link.recover(min(self.sync_timeout, deadline.remaining()))
        except ConnectionLostError as error:
            self._on_lost(error)
            raise

    def _on_lost(self, error: ConnectionLostError) -> None:
        if error.rebooted:  # the link has counted it and starts the conversation over
            logger.warning("board on %s rebooted", self.port)
            for listener in list(self.reboot_listeners):
                listener(str(error))
        else:
            self._lost = error
            logger.warning("board on %s lost: %s", self.port, error)

    def _use_raw_paste(self, payload: bytes) -> bool:
        pacing = self._link.transport.pacing
        supported = self._capabilities is not None and self._capabilities.raw_paste
        return supported and pacing is not None and len(payload) > pacing.chunk_size

    # --- lifetime ---------------------------------------------------------------------

    async def aclose(self) -> None:
        """Leave the board at its friendly REPL (ctrl-B out of raw mode, as mpremote does: no
        soft reset, its threads keep running) for whatever tool comes next, then close the
        connection (and end a virtual board's process). Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        with anyio.CancelScope(shield=True):
            if self._lost is None and not self._lock.locked():
                await self._link.let_go()
            await self._link.transport.aclose()
