"""The one-step path for a call's whole answer in one read gives what the step-by-step machine
gives for the same bytes, however they are cut, in plain raw mode and after a raw paste."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from belay.errors import ProtocolError
from belay.protocol import RawRepl, State

from .scripts import coalesce, idle_repl

FRAGMENTS = [b"", b"OK", b"\x04", b">", b"2\n", b"soft reboot\r\n"]
ANSWER_BYTES = st.binary(max_size=40) | st.sampled_from(FRAGMENTS)


def _run(proto: RawRepl, data: bytes, cut: int | None) -> tuple[list[object], State, bool] | str:
    try:
        for piece in [data] if cut is None else [data[i : i + cut] for i in range(0, len(data), cut)]:
            proto.receive_data(piece)
    except ProtocolError as error:
        return f"error {error}"
    return coalesce(proto.next_events()), proto.state, proto.out_of_step


def _plain() -> RawRepl:
    proto = idle_repl()
    proto.start_call(b"print(1)")
    proto.data_to_send()
    return proto


@settings(max_examples=300, deadline=None)
@given(parts=st.lists(ANSWER_BYTES, max_size=6), ok=st.booleans(), cut=st.integers(1, 7))
def test_an_answer_read_whole_gives_what_it_gives_in_pieces(parts: list[bytes], ok: bool, cut: int) -> None:
    data = (b"OK" if ok else b"") + b"\x04".join(parts) + b">"
    assert _run(_plain(), data, None) == _run(_plain(), data, cut)


@settings(max_examples=200, deadline=None)
@given(stdout=st.binary(max_size=30), stderr=st.binary(max_size=30))
def test_a_well_framed_answer_is_one_step_in_stdout_too(stdout: bytes, stderr: bytes) -> None:
    data = stdout.replace(b"\x04", b"") + b"\x04" + stderr.replace(b"\x04", b"") + b"\x04>"
    whole, bytewise = _plain(), _plain()
    whole.receive_data(b"OK")
    bytewise.receive_data(b"OK")
    assert whole.state is State.STDOUT
    assert _run(whole, data, None) == _run(bytewise, data, 1)
    assert whole.state is State.IDLE
