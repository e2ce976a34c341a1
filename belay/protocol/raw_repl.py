"""The MicroPython raw REPL and raw-paste mode as a state machine with no I/O.

Feed it what the board sent with :meth:`RawRepl.receive_data`, collect :mod:`events
<belay.protocol.events>` from :meth:`RawRepl.next_events`, and write whatever
:meth:`RawRepl.data_to_send` returns. Requests (:meth:`sync`, :meth:`start_call`,
:meth:`interrupt`) only queue bytes. Every buffer it keeps is bounded.

The framing, after code and ``\\x04`` (plain) or a raw-paste exchange::

    OK  <stdout>  \\x04  <stderr>  \\x04  >

A board that soft-reboots (``sys.exit()``, ``machine.soft_reset()``, a reset between calls)
ends the framing with ``MPY: soft reboot`` instead of ``>`` and comes back to its raw prompt
by itself: the machine reports :class:`~belay.protocol.events.Rebooted` and awaits the banner.
The same line between calls (or before a call's ``OK``) is a reboot too. Once the machine has
met the board's raw prompt, a hard reset is one as well, told by what the board prints as it
boots (:mod:`belay.protocol.boot`): the firmware's banner and friendly prompt in any state,
or a bare friendly prompt where a call's ``OK`` or a raw-paste answer was expected.
"""

from __future__ import annotations

import struct

from belay.errors import ProtocolError
from belay.protocol import control
from belay.protocol.boot import BootWatch
from belay.protocol.events import (
    CallComplete,
    Event,
    Output,
    RawPasteRefused,
    Ready,
    Rebooted,
    Unsolicited,
)
from belay.protocol.states import AWAITING_RAW_ANSWER, IN_CALL, PASTE_STATES, State

MAX_ERROR_BYTES = 64 * 1024
"""Stderr kept per call; the rest is dropped and the call marked truncated."""


class RawRepl:
    """One board's raw-REPL conversation: bytes in, events out, requests out as bytes."""

    def __init__(self, *, raw_paste: bool | None = None) -> None:
        self.state = State.UNSYNCED
        self.raw_paste_supported = raw_paste
        """``None`` until learnt; ``False`` once a board refused it."""
        self._inbox = bytearray()
        self._outbox = bytearray()
        self._events: list[Event] = []
        self._error = bytearray()
        self._error_truncated = False
        self._paste = memoryview(b"")
        self._window = 0
        self._window_step = 0
        self._pending_plain = b""
        self._reboot_scan = bytearray()  # the tail of the last unsolicited bytes
        self._boot = BootWatch()
        self._paste_cut = False  # interrupted mid raw-paste: send no more of it
        self._met = False  # the raw prompt was reached once: a boot banner now means a reset
        self._quiet = False  # a reboot was reported (or asked for): its banner is no news
        self.discarded = bytearray()
        """The last bytes skipped while syncing, for error messages (bounded)."""
        self.out_of_step = False
        """Call framing arrived at the idle prompt: an answer came twice, or after its call was
        taken as done (line noise, a forged frame). The next answer could be a stale one, so
        the conversation must be synced again before another call."""

    # --- requests ---------------------------------------------------------------------

    @property
    def in_call(self) -> bool:
        return self.state in IN_CALL

    def sync(self) -> None:
        """Get to a fresh raw prompt from any state: stop the call, enter raw mode, await banner."""
        self._outbox += control.SYNC
        self._enter_syncing()

    def soft_reset(self) -> None:
        """Ask an idle board to soft-reset (an empty call); then await its raw-REPL banner."""
        if self.state is not State.IDLE:
            raise ProtocolError(f"cannot soft-reset in state {self.state.value}")
        self._outbox += control.EOT
        self._enter_syncing()
        self._quiet = True

    def await_banner(self) -> None:
        """Await the raw-REPL banner without asking for it (a board coming back by itself)."""
        self._enter_syncing()

    def interrupt(self) -> None:
        """Ask the board to raise KeyboardInterrupt in the running call.

        Mid raw-paste the Ctrl-C ends the paste on the board: no more of the code goes out,
        nor the ``\x04`` that ends (or acknowledges the end of) a paste, which would reach
        the board's empty raw prompt after the interrupt and soft-reset it."""
        self._outbox += control.INTERRUPT
        if self.state in PASTE_STATES:
            self._paste = memoryview(b"")
            self._pending_plain = b""
            self._paste_cut = True

    def start_call(self, code: bytes, *, raw_paste: bool = False) -> None:
        """Send ``code`` for execution; its framing bytes are escaped first."""
        if self.state is not State.IDLE:
            raise ProtocolError(f"cannot start a call in state {self.state.value}")
        payload = control.escape_code(code)
        self._paste_cut = False
        self._boot.clear()
        self._error.clear()
        self._error_truncated = False
        if raw_paste and self.raw_paste_supported is not False:
            self._paste = memoryview(payload)
            self._pending_plain = payload
            self._outbox += control.RAW_PASTE_REQUEST
            self.state = State.PASTE_REQUESTED
        else:
            self._outbox += payload + control.EOT
            self.state = State.AWAIT_OK

    def data_to_send(self) -> bytes:
        """Bytes the board may be sent now (raw-paste flow control included)."""
        if self.state is State.PASTING and self._window:
            chunk = self._paste[: self._window]
            self._paste = self._paste[len(chunk) :]
            self._window -= len(chunk)
            self._outbox += chunk
        if self.state is State.PASTING and not self._paste and not self._paste_cut:
            self._outbox += control.EOT
            self.state = State.PASTE_ENDING
        out = bytes(self._outbox)
        self._outbox.clear()
        return out

    # --- input ------------------------------------------------------------------------

    @property
    def has_data_to_send(self) -> bool:
        """Whether :meth:`data_to_send` would return anything now."""
        return bool(self._outbox) or (self.state is State.PASTING and not self._paste_cut)

    def receive_data(self, data: bytes) -> None:
        """Feed bytes from the board; may raise :class:`ProtocolError`."""
        if not self._inbox and self._whole_answer(data):
            return
        self._inbox += data
        while self._inbox and self._step():
            pass

    def _whole_answer(self, data: bytes) -> bool:
        """The common case in one step: a call's whole framing in one piece, nothing around it
        (``OK <stdout> \\x04 <stderr> \\x04 >``); the same events as the steps would make."""
        state = self.state
        if state is State.AWAIT_OK:
            if not data.startswith(b"OK"):
                return False
            if len(data) == 2:  # a board that sends OK by itself, then runs the code
                self._reboot_scan.clear()
                self.state = State.STDOUT
                return True
            start = 2
        elif state is State.STDOUT:
            start = 0
        else:
            return False
        end_out = data.find(b"\x04", start)
        end_err = data.find(b"\x04", end_out + 1) if end_out >= 0 else -1
        if (
            end_err < 0
            or end_err != len(data) - 2
            or data[-1:] != b">"
            or end_err - end_out > MAX_ERROR_BYTES
        ):
            return False
        if end_out > start:
            self._events.append(Output(bytes(data[start:end_out])))
        self._reboot_scan.clear()
        self._boot.clear()
        self.state = State.IDLE
        self._events.append(CallComplete(bytes(data[end_out + 1 : end_err])))
        return True

    def next_events(self) -> list[Event]:
        """Every event produced since the last call, oldest first."""
        events, self._events = self._events, []
        return events

    # --- the machine ------------------------------------------------------------------

    def _step(self) -> bool:
        """Consume what the current state can; ``False`` when it needs more bytes."""
        handler = _HANDLERS[self.state]
        return handler(self)

    def _unsolicited(self) -> bool:
        if self.state is State.UNSYNCED:  # nothing known yet: the link syncs first
            self._events.append(Unsolicited(bytes(self._inbox)))
            self._inbox.clear()
            return False
        if control.EOT in self._inbox:
            self.out_of_step = True
        return self._flush_unsolicited(len(self._inbox))

    def _syncing(self) -> bool:
        found = control.find_banner(self._inbox)
        if found is None:
            keep = control.banner_tail_keep(self._inbox)
            self._discard(self._inbox[: len(self._inbox) - keep])
            del self._inbox[: len(self._inbox) - keep]
            return False
        start, end = found
        self._discard(self._inbox[:start])
        del self._inbox[:end]
        self.state = State.IDLE
        self._met, self._quiet = True, False
        self._boot.clear()
        self._events.append(Ready())
        return True

    def _paste_requested(self) -> bool:
        found = control.find_paste_answer(self._inbox)
        if found is None:  # report what cannot begin an answer; keep what may
            keep = control.paste_answer_tail_keep(self._inbox)
            return self._flush_unsolicited(len(self._inbox) - keep)
        start, end = found
        if self._flush_unsolicited(start):
            return True
        answer = bytes(self._inbox[: end - start])
        del self._inbox[: end - start]
        if answer == control.PASTE_ACCEPTED:
            self.raw_paste_supported = True
            self._pending_plain = b""
            self._reboot_scan.clear()
            self.state = State.PASTE_WINDOW
            return True
        # R\x00, or the banner from an old board: the request just reset its raw REPL
        return self._fall_back_to_plain()

    def _fall_back_to_plain(self) -> bool:
        self.raw_paste_supported = False
        self._events.append(RawPasteRefused())
        if self._paste_cut:  # interrupted before it began: nothing of it is sent
            self.state = State.AWAIT_OK
            return True
        self._outbox += self._pending_plain + control.EOT
        self._pending_plain = b""
        self._paste = memoryview(b"")
        self.state = State.AWAIT_OK
        return True

    def _paste_window(self) -> bool:
        if len(self._inbox) < 2:
            return False
        (self._window_step,) = struct.unpack("<H", self._inbox[:2])
        if not self._window_step:
            raise ProtocolError("raw-paste window of zero bytes", received=bytes(self._inbox[:2]))
        del self._inbox[:2]
        self._window = self._window_step
        self.state = State.PASTING
        return True

    def _pasting(self) -> bool:
        byte = self._inbox[0]
        del self._inbox[:1]
        if byte == control.WINDOW_ACK:
            self._window += self._window_step
        elif byte == control.EOT[0]:  # the board ends the paste early (e.g. a syntax error)
            self._paste = memoryview(b"")
            if not self._paste_cut:  # after an interrupt the board waits for no acknowledgement
                self._outbox += control.EOT
            self.state = State.STDOUT
        else:
            self._garbled("unexpected byte during raw-paste", byte)
        return True

    def _paste_ending(self) -> bool:
        byte = self._inbox[0]
        del self._inbox[:1]
        if byte == control.EOT[0]:
            self.state = State.STDOUT
        elif byte != control.WINDOW_ACK:
            self._garbled("unexpected byte ending raw-paste", byte)
        return True

    def _garbled(self, what: str, byte: int) -> None:
        """A raw-paste exchange broken off: raise, awaiting a banner with what came after the
        byte kept, so a board that reset (and now prints its boot banner) is told as one."""
        self._enter_syncing()
        self._discard(bytes([byte]))
        raise ProtocolError(what, received=bytes([byte]))

    def _await_ok(self) -> bool:
        index = self._inbox.find(b"OK")
        if index < 0:
            keep = 1 if self._inbox.endswith(b"O") else 0
            return self._flush_unsolicited(len(self._inbox) - keep)
        if index and self._flush_unsolicited(index):  # nothing before OK: nothing to report
            return True
        del self._inbox[:2]
        self._reboot_scan.clear()
        self.state = State.STDOUT
        return True

    def _flush_unsolicited(self, count: int) -> bool:
        """Report the first ``count`` bytes as unsolicited; ``True`` if they said the board
        soft-rebooted (reported up to that line's end; the machine then awaits the banner)."""
        seen = self._reboot_scan + self._inbox[:count]
        end = control.soft_reboot_end(seen)
        soft = None if end is None else end - (len(seen) - count)
        booted = self._booted(self._inbox[: max(count, 0)])
        if booted is not None and (soft is None or booted[1] <= soft):
            said, count = booted
        elif soft is not None:
            count, said = soft, b""
        else:
            self._reboot_scan = seen[-control.SOFT_REBOOT_TAIL :]
        if count > 0:
            self._events.append(Unsolicited(bytes(self._inbox[:count])))
            del self._inbox[:count]
        if soft is None and booted is None:
            return False
        self._reboot(said)
        return True

    def _booted(self, data: bytes | bytearray) -> tuple[bytes, int] | None:
        """What the board printed as it booted and where in ``data`` that ends, if ``data`` ends
        a boot (a hard reset); where the raw REPL had to answer, a bare friendly prompt counts."""
        if not self._met or not data:
            return None
        return self._boot.feed(data, prompt=self.state in AWAITING_RAW_ANSWER)

    def _reboot(self, seen: bytes = b"") -> None:
        self._events.append(Rebooted(seen))
        self._enter_syncing()
        self._quiet = True
        self._boot.clear()

    def _stdout(self) -> bool:
        index = self._inbox.find(control.EOT)
        part = bytes(self._inbox if index < 0 else self._inbox[:index])
        booted = self._booted(part)
        if booted is not None:  # the board reset while the call ran: its framing never ends
            self._events.append(Output(part[: booted[1]]))
            del self._inbox[: booted[1]]
            self._reboot(booted[0])
            return True
        if part:
            self._events.append(Output(part))
        if index < 0:
            self._inbox.clear()
            return False
        del self._inbox[: index + 1]
        self.state = State.STDERR
        return True

    def _stderr(self) -> bool:
        index = self._inbox.find(control.EOT)
        part = self._inbox if index < 0 else self._inbox[:index]
        booted = self._booted(part)
        if booted is not None:
            del self._inbox[: booted[1]]
            self._reboot(booted[0])
            return True
        room = MAX_ERROR_BYTES - len(self._error)
        self._error += part[:room]
        self._error_truncated |= len(part) > room
        if index < 0:
            self._inbox.clear()
            return False
        del self._inbox[: index + 1]
        self.state = State.AWAIT_PROMPT
        return True

    def _await_prompt(self) -> bool:
        if self._inbox[0] == control.PROMPT[0]:
            del self._inbox[:1]
            self.state = State.IDLE
            self._events.append(CallComplete(bytes(self._error), self._error_truncated))
            return True
        reboot = control.soft_reboot_at_start(self._inbox)
        if reboot == 0:
            return False  # may still be "MPY: soft reboot"
        if reboot is not None:  # the call ended the board's run: sys.exit(), machine.soft_reset()
            del self._inbox[:reboot]
            self._reboot()
            return True
        if self._error_truncated:  # the bytes needed to reframe were dropped
            raise ProtocolError("expected the raw prompt after a call", received=bytes(self._inbox))
        return self._reframe_output()

    def _reframe_output(self) -> bool:
        """No prompt after the second ctrl-D: the call printed a ctrl-D of its own.

        The ctrl-D taken for the end of stdout was part of it, and what was taken for
        stderr was more output; the ctrl-D just seen may end stdout, so stderr starts
        over after it (the byte in hand is not consumed).
        """
        self._events.append(Output(control.EOT + bytes(self._error)))
        self._error.clear()
        self.state = State.STDERR
        return True

    def _enter_syncing(self) -> None:
        if self.state is not State.SYNCING:  # a repeated sync keeps what the last one skipped
            self.discarded.clear()
        self.state = State.SYNCING
        self.out_of_step = False
        self._reboot_scan.clear()
        self._paste = memoryview(b"")
        self._pending_plain = b""

    def _discard(self, data: bytes | bytearray) -> None:
        """Skip ``data`` while syncing; a boot banner among it is a reset (unless one was told)."""
        if self._met and not self._quiet:
            scan = self._reboot_scan + data
            booted = self._boot.feed(data)
            if booted is not None or control.soft_reboot_end(scan) is not None:
                self._quiet = True
                self._events.append(Rebooted(b"" if booted is None else booted[0]))
            self._reboot_scan = scan[-control.SOFT_REBOOT_TAIL :]
        self.discarded += data
        del self.discarded[: max(0, len(self.discarded) - 256)]


_HANDLERS = {
    State.UNSYNCED: RawRepl._unsolicited,
    State.IDLE: RawRepl._unsolicited,
    State.SYNCING: RawRepl._syncing,
    State.PASTE_REQUESTED: RawRepl._paste_requested,
    State.PASTE_WINDOW: RawRepl._paste_window,
    State.PASTING: RawRepl._pasting,
    State.PASTE_ENDING: RawRepl._paste_ending,
    State.AWAIT_OK: RawRepl._await_ok,
    State.STDOUT: RawRepl._stdout,
    State.STDERR: RawRepl._stderr,
    State.AWAIT_PROMPT: RawRepl._await_prompt,
}
