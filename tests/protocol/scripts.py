"""Scripted board conversations for the raw-REPL state machine, fed in any split.

A conversation is a list of board *turns*: each turn is what the board says after it has
received everything the host sent so far. Within a turn the bytes may arrive in any
pieces; after every piece the host takes what :meth:`RawRepl.data_to_send` offers.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from belay.protocol import CallComplete, Event, Output, RawRepl, Unsolicited

BANNER = b"raw REPL; CTRL-B to exit\r\n>"

UNIX_SYNC_REPLY = b"\r\n>>> \r\n>>> \r\n>>> \r\n" + BANNER
UNIX_PRINT = b"OK2\n\x04\x04>"
UNIX_TRACEBACK = (
    b'Traceback (most recent call last):\n  File "<stdin>", line 1, in <module>\n'
    b"ZeroDivisionError: divide by zero\n"
)
UNIX_ZERO_DIVISION = b"OK\x04" + UNIX_TRACEBACK + b"\x04>"
UNIX_PASTE_ACCEPTED = b"R\x01\x80\x00\x01"
UNIX_KEYBOARD_INTERRUPT = (
    b'Traceback (most recent call last):\n  File "<stdin>", line 1, in <module>\nKeyboardInterrupt: \n'
)

MICROBIT_BOOT = (
    b"\x00MicroPython v1.9.2-34-gd64154c73 on 2017-09-01; micro:bit v1.0.1 with nRF51822\r\n"
    b'Type "help()" for more information.\r\n>>> '
)
MICROBIT_SYNC_REPLY = b"\r\n>>> \r\n>>> \r\n>>> \r\n" + BANNER
MICROBIT_PRINT = b"OK2\r\n\x04\x04>"


@dataclass
class Run:
    """What one fed conversation produced."""

    events: list[Event] = field(default_factory=list)
    sent: bytearray = field(default_factory=bytearray)
    sent_per_turn: list[bytes] = field(default_factory=list)


def idle_repl(*, raw_paste: bool | None = None) -> RawRepl:
    """A machine that synced with the unix board and sits at the raw prompt, outbox empty."""
    proto = RawRepl(raw_paste=raw_paste)
    proto.sync()
    proto.receive_data(UNIX_SYNC_REPLY)
    proto.next_events()
    proto.data_to_send()
    return proto


def pieces(data: bytes, cuts: Sequence[int]) -> list[bytes]:
    """``data`` cut at ``cuts`` (taken modulo ``len(data) + 1``, in any order, repeats allowed)."""
    points = sorted({0, len(data), *(cut % (len(data) + 1) for cut in cuts)})
    return [data[a:b] for a, b in itertools.pairwise(points)] or [b""]


Splitter = Callable[[bytes], list[bytes]]


def whole(data: bytes) -> list[bytes]:
    return [data]


def bytewise(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


Step = bytes | Callable[[RawRepl], object]
"""Board bytes (one turn), or a host request made between turns."""


def feed(proto: RawRepl, steps: Sequence[Step], split: Splitter) -> Run:
    """Play ``steps`` into ``proto``; collect its events and everything the host sent."""
    run = Run()
    for step in steps:
        sent = bytearray()
        if isinstance(step, bytes):
            for piece in split(step):
                proto.receive_data(piece)
                run.events += proto.next_events()
                sent += proto.data_to_send()
        else:
            step(proto)
            sent += proto.data_to_send()
        run.sent += sent
        run.sent_per_turn.append(bytes(sent))
    return run


def coalesce(events: Sequence[Event]) -> list[Event]:
    """Join neighbouring output (or unsolicited) pieces, drop empty ones: the split-free view."""
    merged: list[Event] = []
    for event in events:
        if isinstance(event, Output | Unsolicited):
            if not event.data:
                continue
            if merged and type(merged[-1]) is type(event):
                previous = merged.pop()
                assert isinstance(previous, Output | Unsolicited)
                event = type(event)(previous.data + event.data)
        merged.append(event)
    return merged


def complete(error: bytes = b"", truncated: bool = False) -> CallComplete:
    return CallComplete(error, truncated)
