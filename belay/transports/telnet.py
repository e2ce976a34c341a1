"""The Telnet framing of an RFC 2217 serial port, as a state machine: bytes in, data out.

pyserial's own ``rfc2217://`` client moves every received byte through a ``queue.Queue`` in a
thread of its own, which caps it near 0.3 MiB/s; here data between Telnet commands is
sliced out of each chunk whole. No I/O: :class:`TelnetDecoder` returns the board's bytes and
the answers owed to the server, :func:`rfc2217_preamble` and :func:`rfc2217_settings` what a
client sends first.
"""

from __future__ import annotations

import enum
import logging
import struct

logger = logging.getLogger(__name__)

IAC, DONT, DO, WONT, WILL, SB, SE = 255, 254, 253, 252, 251, 250, 240
BINARY, ECHO, SGA, COM_PORT_OPTION = 0, 1, 3, 44
SET_BAUDRATE, SET_DATASIZE, SET_PARITY, SET_STOPSIZE, SET_CONTROL = 1, 2, 3, 4, 5
PARITY_NONE, STOPSIZE_1, CONTROL_NO_FLOW = 1, 1, 1
CONTROL_DTR_ON, CONTROL_DTR_OFF, CONTROL_RTS_ON, CONTROL_RTS_OFF = 8, 9, 11, 12

WE_OFFER = frozenset({BINARY, SGA, COM_PORT_OPTION})
"""Options this client performs itself (answers ``DO`` with ``WILL``)."""
THEY_MAY = frozenset({BINARY, SGA, ECHO, COM_PORT_OPTION})
"""Options the server may perform (answers ``WILL`` with ``DO``)."""

MAX_SUBNEGOTIATION = 256
"""Bytes kept of one subnegotiation (a server's notices are a few bytes)."""


class _State(enum.Enum):
    DATA = enum.auto()
    COMMAND = enum.auto()
    OPTION = enum.auto()
    SUB = enum.auto()
    SUB_COMMAND = enum.auto()


_AFTER_VERB = {SB: _State.SUB, **dict.fromkeys((WILL, WONT, DO, DONT), _State.OPTION)}


def escape(data: bytes) -> bytes:
    """Board bytes as Telnet data: ``IAC`` doubled."""
    return data.replace(b"\xff", b"\xff\xff")


def _command(verb: int, option: int) -> bytes:
    return bytes((IAC, verb, option))


def _subnegotiation(command: int, value: bytes) -> bytes:
    return bytes((IAC, SB, COM_PORT_OPTION, command)) + escape(value) + bytes((IAC, SE))


def rfc2217_preamble() -> bytes:
    """The options a client asks for on connecting: binary both ways, no go-ahead, COM port."""
    asks = [(WILL, BINARY), (DO, BINARY), (WILL, SGA), (DO, SGA), (WILL, COM_PORT_OPTION)]
    return b"".join(_command(verb, option) for verb, option in asks)


def rfc2217_settings(baudrate: int, *, dtr: bool = True, rts: bool = True) -> bytes:
    """8N1 at ``baudrate``, no flow control, DTR and RTS at ``dtr``/``rts`` (default asserted,
    as pyserial's client and a local port open): what the server sets its UART to. The lines
    change in the order that never passes through DTR low with RTS high on the way (an ESP
    board's reset) unless asked to stay there: RTS lowered first, raised last."""
    dtr_control = CONTROL_DTR_ON if dtr else CONTROL_DTR_OFF
    controls = (dtr_control, CONTROL_RTS_ON) if rts else (CONTROL_RTS_OFF, dtr_control)
    return b"".join((
        _subnegotiation(SET_BAUDRATE, struct.pack("!I", baudrate)),
        _subnegotiation(SET_DATASIZE, bytes((8,))),
        _subnegotiation(SET_PARITY, bytes((PARITY_NONE,))),
        _subnegotiation(SET_STOPSIZE, bytes((STOPSIZE_1,))),
        _subnegotiation(SET_CONTROL, bytes((CONTROL_NO_FLOW,))),
        *(_subnegotiation(SET_CONTROL, bytes((control,))) for control in controls),
    ))  # fmt: skip


def rfc2217_release() -> bytes:
    """RTS lowered, then DTR: what a client asks for as it closes (mpremote's order; lowering
    DTR first would reset an ESP board through its auto-reset circuit)."""
    return b"".join(
        _subnegotiation(SET_CONTROL, bytes((control,))) for control in (CONTROL_RTS_OFF, CONTROL_DTR_OFF)
    )


class TelnetDecoder:
    """Splits what a Telnet server sends into the board's bytes and option negotiation.

    :meth:`feed` returns the data; :meth:`take_replies` the answers owed to the server.
    Options are answered once per change of state, so two peers never loop; ``com_port``
    is ``True`` or ``False`` once the server has accepted or refused RFC 2217.
    """

    def __init__(self) -> None:
        self._state = _State.DATA
        self._verb = 0
        self._sub = bytearray()
        self._replies = bytearray()
        self._ours: dict[int, bool] = dict.fromkeys(WE_OFFER, True)
        self._theirs: dict[int, bool] = {BINARY: True, SGA: True}
        self.com_port: bool | None = None

    def feed(self, chunk: bytes) -> bytes:
        """The board's bytes in ``chunk`` (commands anywhere, split anywhere)."""
        if self._state is _State.DATA and IAC not in chunk:
            return chunk
        data = bytearray()
        index = 0
        while index < len(chunk):
            if self._state is _State.DATA:
                found = chunk.find(IAC, index)
                end = len(chunk) if found < 0 else found
                data += chunk[index:end]
                index = end
                if found >= 0:
                    self._state, index = _State.COMMAND, found + 1
                continue
            byte = chunk[index]
            index += 1
            if self._state is _State.COMMAND and byte == IAC:
                data.append(IAC)
                self._state = _State.DATA
            else:
                self._step(byte)
        return bytes(data)

    @property
    def owes(self) -> bool:
        """Whether answers are waiting for :meth:`take_replies`."""
        return bool(self._replies)

    def take_replies(self) -> bytes:
        """The negotiation answers owed to the server since the last call."""
        replies, self._replies = bytes(self._replies), bytearray()
        return replies

    def _step(self, byte: int) -> None:
        state = self._state
        if state is _State.COMMAND:  # a verb; SB opens a subnegotiation; NOP, GA and the like end here
            self._verb = byte
            self._sub.clear()
            self._state = _AFTER_VERB.get(byte, _State.DATA)
        elif state is _State.OPTION:
            self._negotiate(self._verb, byte)
            self._state = _State.DATA
        elif state is _State.SUB:
            if byte == IAC:
                self._state = _State.SUB_COMMAND
            elif len(self._sub) < MAX_SUBNEGOTIATION:
                self._sub.append(byte)
        else:  # SUB_COMMAND: IAC SE ends it, IAC IAC is a data 0xFF inside it
            self._state = _State.SUB if byte == IAC else _State.DATA
            if byte == IAC:
                self._sub.append(IAC)
            elif byte == SE:
                logger.debug("telnet subnegotiation %r", bytes(self._sub))

    def _negotiate(self, verb: int, option: int) -> None:
        """Answer a request only where it changes what was agreed (RFC 1143's rule of thumb)."""
        if verb in (DO, DONT):
            table, wanted, yes, no = self._ours, option in WE_OFFER, WILL, WONT
        else:
            table, wanted, yes, no = self._theirs, option in THEY_MAY, DO, DONT
        enable = verb in (DO, WILL) and wanted
        if option == COM_PORT_OPTION and (enable or verb == DONT):
            self.com_port = enable
        if table.get(option, False) != enable or (verb in (DO, WILL) and not wanted):
            table[option] = enable
            self._replies += _command(yes if enable else no, option)
