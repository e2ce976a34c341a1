"""The raw-REPL protocol, without I/O: bytes in, events out, requests out as bytes."""

from belay.protocol.events import (
    CallComplete,
    Event,
    Output,
    RawPasteRefused,
    Ready,
    Rebooted,
    Unsolicited,
)
from belay.protocol.raw_repl import RawRepl
from belay.protocol.states import State

__all__ = [
    "CallComplete",
    "Event",
    "Output",
    "RawPasteRefused",
    "RawRepl",
    "Ready",
    "Rebooted",
    "State",
    "Unsolicited",
]
