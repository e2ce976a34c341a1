"""The states of the raw-REPL machine, and the sets of them it decides by."""

from __future__ import annotations

import enum


class State(enum.Enum):
    UNSYNCED = "unsynced"  # nothing known; bytes are unsolicited
    SYNCING = "syncing"  # waiting for the raw-REPL banner
    IDLE = "idle"  # at the raw prompt
    PASTE_REQUESTED = "paste-requested"  # sent ctrl-E A ctrl-A, waiting for R\x00/R\x01/banner
    PASTE_WINDOW = "paste-window"  # got R\x01, waiting for the 2-byte window size
    PASTING = "pasting"  # sending code within the window
    PASTE_ENDING = "paste-ending"  # sent ctrl-D, waiting for the board's ctrl-D
    AWAIT_OK = "await-ok"  # plain raw mode: sent code + ctrl-D, waiting for OK
    STDOUT = "stdout"
    STDERR = "stderr"
    AWAIT_PROMPT = "await-prompt"


IN_CALL = frozenset(State) - {State.UNSYNCED, State.SYNCING, State.IDLE}
PASTE_STATES = frozenset({State.PASTE_REQUESTED, State.PASTE_WINDOW, State.PASTING})
AWAITING_RAW_ANSWER = frozenset({State.AWAIT_OK, State.PASTE_REQUESTED})
"""Where only the raw REPL's own answer may come: a friendly prompt there means the board reset."""
