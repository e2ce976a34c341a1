"""Arbitrary board bytes in every state: events or ProtocolError, never a crash, a hang or a leak."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from belay.errors import ProtocolError
from belay.protocol import (
    CallComplete,
    Event,
    Output,
    RawPasteRefused,
    RawRepl,
    Ready,
    Rebooted,
    State,
    Unsolicited,
)
from belay.protocol.raw_repl import MAX_ERROR_BYTES

from .scripts import BANNER, UNIX_PASTE_ACCEPTED, UNIX_SYNC_REPLY, coalesce, idle_repl, pieces

INBOX_BOUND = 64
"""What the machine may hold back between feeds: a possible banner start is 26 bytes."""

LONG_CODE = b"x = 1\n" * 100


def _syncing() -> RawRepl:
    proto = RawRepl()
    proto.sync()
    return proto


def _paste_requested() -> RawRepl:
    proto = idle_repl()
    proto.start_call(LONG_CODE, raw_paste=True)
    return proto


def _paste_window() -> RawRepl:
    proto = _paste_requested()
    proto.receive_data(b"R\x01")
    return proto


def _pasting() -> RawRepl:
    proto = _paste_requested()
    proto.receive_data(b"R\x01\x80\x00")
    proto.data_to_send()  # one window out, more to go
    return proto


def _paste_ending() -> RawRepl:
    proto = idle_repl()
    proto.start_call(b"print(1)", raw_paste=True)
    proto.receive_data(UNIX_PASTE_ACCEPTED)
    proto.data_to_send()
    return proto


def _await_ok() -> RawRepl:
    proto = idle_repl()
    proto.start_call(b"print(1)")
    return proto


def _after(prefix: bytes) -> Callable[[], RawRepl]:
    def make() -> RawRepl:
        proto = _await_ok()
        proto.receive_data(prefix)
        return proto

    return make


BUILDERS: dict[State, Callable[[], RawRepl]] = {
    State.UNSYNCED: RawRepl,
    State.SYNCING: _syncing,
    State.IDLE: idle_repl,
    State.PASTE_REQUESTED: _paste_requested,
    State.PASTE_WINDOW: _paste_window,
    State.PASTING: _pasting,
    State.PASTE_ENDING: _paste_ending,
    State.AWAIT_OK: _await_ok,
    State.STDOUT: _after(b"OK"),
    State.STDERR: _after(b"OK\x04"),
    State.AWAIT_PROMPT: _after(b"OK\x04\x04"),
}
STATES = list(BUILDERS)

TOKENS = [
    b"OK",
    b"O",
    b"\x04",
    b">",
    b"\x04>",
    b"R",
    b"R\x01",
    b"R\x00",
    b"\x01",
    b"\x80\x00",
    b"\x00\x00",
    b"\r\n",
    BANNER,
    BANNER[:7],
    BANNER[:-2],
    UNIX_SYNC_REPLY,
    b"\xff\xfe\x00",
    b"MPY: soft reboot\r\n",
    b"soft reboot\r\n",
    b"MPY: soft re",
]
board_bytes = st.lists(
    st.one_of(st.sampled_from(TOKENS), st.binary(max_size=24)),
    max_size=16,
).map(b"".join)
big_stream = st.sampled_from([b"e" * (MAX_ERROR_BYTES + 300), b"\x04" + b"e" * (MAX_ERROR_BYTES + 300)])

HostAction = str
host_actions = st.sampled_from(["sync", "interrupt", "call", "paste-call", "soft-reset", "send"])
script = st.lists(st.one_of(board_bytes, board_bytes, host_actions, big_stream), max_size=12)

EVENT_TYPES = (Ready, Output, Unsolicited, CallComplete, RawPasteRefused, Rebooted)


def test_every_state_is_reachable_for_the_fuzzer() -> None:
    assert {state: BUILDERS[state]().state for state in STATES} == {state: state for state in STATES}


def check_invariants(proto: RawRepl, events: list[Event]) -> None:
    assert len(proto._inbox) <= INBOX_BOUND
    assert len(proto._error) <= MAX_ERROR_BYTES
    assert len(proto.discarded) <= 256
    for event in events:
        assert isinstance(event, EVENT_TYPES)
        if isinstance(event, Output | Unsolicited):
            assert event.data, "no empty output events"
        if isinstance(event, CallComplete):
            assert len(event.error) <= MAX_ERROR_BYTES


def act(proto: RawRepl, action: HostAction) -> None:
    """A host request, made only where the machine accepts it."""
    if action == "sync":
        proto.sync()
    elif action == "interrupt":
        proto.interrupt()
    elif action in ("call", "paste-call") and proto.state is State.IDLE:
        proto.start_call(b"print(1)", raw_paste=action == "paste-call")
    elif action == "soft-reset" and proto.state is State.IDLE:
        proto.soft_reset()
    elif action == "send":
        proto.data_to_send()


@pytest.mark.parametrize("state", STATES, ids=[state.value for state in STATES])
@settings(max_examples=40, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(steps=script)
def test_arbitrary_bytes_give_events_or_a_protocol_error(state: State, steps: list[bytes | str]) -> None:
    proto = BUILDERS[state]()
    proto.next_events()
    for step in steps:
        if isinstance(step, str):
            act(proto, step)
            continue
        try:
            proto.receive_data(step)
        except ProtocolError:
            proto.sync()  # what the link does: start over from a fresh prompt
            proto.receive_data(b"")
        check_invariants(proto, proto.next_events())
        proto.data_to_send()


def play(proto: RawRepl, chunks: list[bytes]) -> tuple[list[Event], State, bool]:
    """Feed without ever taking data to send (so only the board bytes drive the machine)."""
    failed = False
    try:
        for chunk in chunks:
            proto.receive_data(chunk)
    except ProtocolError:
        failed = True
    return coalesce(proto.next_events()), proto.state, failed


@pytest.mark.parametrize("state", STATES, ids=[state.value for state in STATES])
@settings(max_examples=40, deadline=2000)
@given(data=board_bytes, cuts=st.lists(st.integers(0, 10_000), max_size=10))
def test_the_split_of_arbitrary_bytes_never_matters(state: State, data: bytes, cuts: list[int]) -> None:
    whole = play(BUILDERS[state](), [data])
    split = play(BUILDERS[state](), pieces(data, cuts))
    bytewise = play(BUILDERS[state](), [data[i : i + 1] for i in range(len(data))])
    assert split == whole
    assert bytewise == whole


@pytest.mark.parametrize("state", STATES, ids=[state.value for state in STATES])
def test_a_long_stream_keeps_every_buffer_bounded(state: State) -> None:
    proto = BUILDERS[state]()
    chunk = bytes(range(6, 256)) * 4  # no framing bytes: nothing ends or resets a frame
    for _ in range(100):
        try:
            proto.receive_data(chunk)
        except ProtocolError:
            return  # a state that accepts no free text says so at once
        check_invariants(proto, proto.next_events())
    # text after the second ctrl-D means the first was printed: stdout goes on, stderr starts over
    assert proto.state is {State.AWAIT_PROMPT: State.STDERR}.get(state, state)
