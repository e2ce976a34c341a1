"""The sans-IO raw-REPL machine against real board transcripts, fed in every split.

Each conversation is played whole, one byte at a time, and in random pieces chosen by
hypothesis; the events (neighbouring output joined) and the bytes the host sends must be
the same every time.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
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
    control,
)
from belay.protocol.raw_repl import MAX_ERROR_BYTES

from .scripts import (
    BANNER,
    MICROBIT_BOOT,
    MICROBIT_PRINT,
    MICROBIT_SYNC_REPLY,
    UNIX_KEYBOARD_INTERRUPT,
    UNIX_PASTE_ACCEPTED,
    UNIX_PRINT,
    UNIX_SYNC_REPLY,
    UNIX_TRACEBACK,
    UNIX_ZERO_DIVISION,
    Splitter,
    Step,
    bytewise,
    coalesce,
    complete,
    feed,
    idle_repl,
    pieces,
    whole,
)

PRINT = b"print(1+1)"
LONG_CODE = b"".join(b"x%03d = %d\n" % (i, i) for i in range(60))  # 600+ bytes: three windows
SYNTAX_TRACEBACK = (
    b'Traceback (most recent call last):\n  File "<stdin>", line 3\nSyntaxError: invalid syntax\n'
)


def call(code: bytes, *, raw_paste: bool = False) -> Callable[[RawRepl], None]:
    def request(proto: RawRepl) -> None:
        proto.start_call(code, raw_paste=raw_paste)

    return request


def sync(proto: RawRepl) -> None:
    proto.sync()


def interrupt(proto: RawRepl) -> None:
    proto.interrupt()


@dataclass(frozen=True)
class Conversation:
    name: str
    steps: Sequence[Step]
    events: list[Event]
    sent: bytes
    state: State = State.IDLE
    start_idle: bool = True
    raw_paste_supported: bool | None = None

    def play(self, split: Splitter) -> tuple[RawRepl, list[Event], bytes]:
        proto = idle_repl() if self.start_idle else RawRepl()
        run = feed(proto, self.steps, split)
        return proto, coalesce(run.events), bytes(run.sent)


BIG_ERROR = b"E" * (MAX_ERROR_BYTES + 1000)
MPY_SOFT_REBOOT = b"MPY: soft reboot\r\n"

CONVERSATIONS = [
    Conversation(
        "unix-sync",
        [sync, UNIX_SYNC_REPLY],
        [Ready()],
        control.SYNC,
        start_idle=False,
    ),
    Conversation(
        "sync-after-noise-and-a-false-banner-start",
        [b"old output\x04>raw REPL; CTRL", sync, b"raw REPL\r\n>" + b"x" * 500 + UNIX_SYNC_REPLY],
        [Unsolicited(b"old output\x04>raw REPL; CTRL"), Ready()],
        control.SYNC,
        start_idle=False,
    ),
    Conversation(
        "sync-banner-ending-in-lf",
        [sync, b"\n>>> \nraw REPL; CTRL-B to exit\n>"],
        [Ready()],
        control.SYNC,
        start_idle=False,
    ),
    Conversation(
        "microbit-boot-sync-print",
        [MICROBIT_BOOT, sync, MICROBIT_SYNC_REPLY, call(PRINT), MICROBIT_PRINT],
        [Unsolicited(MICROBIT_BOOT), Ready(), Output(b"2\r\n"), complete()],
        control.SYNC + PRINT + b"\x04",
        start_idle=False,
    ),
    Conversation(
        "unix-plain-print", [call(PRINT), UNIX_PRINT], [Output(b"2\n"), complete()], PRINT + b"\x04"
    ),
    Conversation(
        "unix-plain-error", [call(b"1/0"), UNIX_ZERO_DIVISION], [complete(UNIX_TRACEBACK)], b"1/0\x04"
    ),
    Conversation(
        "unix-raw-paste",
        [call(PRINT, raw_paste=True), UNIX_PASTE_ACCEPTED, b"\x04" + b"2\n\x04\x04>"],
        [Output(b"2\n"), complete()],
        control.RAW_PASTE_REQUEST + PRINT + b"\x04",
        raw_paste_supported=True,
    ),
    Conversation(
        "unix-raw-paste-error",
        [call(b"1/0", raw_paste=True), UNIX_PASTE_ACCEPTED, b"\x04\x04" + UNIX_TRACEBACK + b"\x04>"],
        [complete(UNIX_TRACEBACK)],
        control.RAW_PASTE_REQUEST + b"1/0\x04",
        raw_paste_supported=True,
    ),
    Conversation(
        "raw-paste-over-three-windows",
        [call(LONG_CODE, raw_paste=True), UNIX_PASTE_ACCEPTED, b"\x01\x01", b"\x01\x01", b"\x04\x04\x04>"],
        [complete()],
        control.RAW_PASTE_REQUEST + LONG_CODE + b"\x04",
        raw_paste_supported=True,
    ),
    Conversation(
        "raw-paste-ended-early-by-the-board",
        [
            call(LONG_CODE, raw_paste=True),
            UNIX_PASTE_ACCEPTED,
            b"\x04",
            b"\x04" + SYNTAX_TRACEBACK + b"\x04>",
        ],
        [complete(SYNTAX_TRACEBACK)],
        control.RAW_PASTE_REQUEST + LONG_CODE[:256] + b"\x04",
        raw_paste_supported=True,
    ),
    Conversation(
        "raw-paste-refused-with-R0",
        [call(PRINT, raw_paste=True), b"R\x00", UNIX_PRINT],
        [RawPasteRefused(), Output(b"2\n"), complete()],
        control.RAW_PASTE_REQUEST + PRINT + b"\x04",
        raw_paste_supported=False,
    ),
    Conversation(
        "microbit-answers-raw-paste-with-the-banner",
        [call(PRINT, raw_paste=True), BANNER, MICROBIT_PRINT],
        [RawPasteRefused(), Output(b"2\r\n"), complete()],
        control.RAW_PASTE_REQUEST + PRINT + b"\x04",
        raw_paste_supported=False,
    ),
    Conversation("unsolicited-while-idle", [b"tick\r\n"], [Unsolicited(b"tick\r\n")], b""),
    Conversation(
        "unsolicited-before-ok",
        [call(PRINT), b"tOck\nO\n" + UNIX_PRINT],
        [Unsolicited(b"tOck\nO\n"), Output(b"2\n"), complete()],
        PRINT + b"\x04",
    ),
    Conversation(
        "unsolicited-before-the-raw-paste-answer",
        [call(PRINT, raw_paste=True), b"tick R\n" + UNIX_PASTE_ACCEPTED, b"\x04" + UNIX_PRINT[2:]],
        [Unsolicited(b"tick R\n"), Output(b"2\n"), complete()],
        control.RAW_PASTE_REQUEST + PRINT + b"\x04",
        raw_paste_supported=True,
    ),
    Conversation(
        "stdout-holding-a-ctrl-d",
        [call(b"print('a\\x04b')"), b"OKa\x04b\n\x04\x04>"],
        [Output(b"a\x04b\n"), complete()],
        b"print('a\\x04b')\x04",
    ),
    Conversation(
        "stdout-holding-a-ctrl-d-then-an-error",
        [call(b"print('a\\x04b');1/0"), b"OKa\x04b\n\x04" + UNIX_TRACEBACK + b"\x04>"],
        [Output(b"a\x04b\n"), complete(UNIX_TRACEBACK)],
        b"print('a\\x04b');1/0\x04",
    ),
    Conversation(
        "stdout-holding-several-ctrl-d",
        [call(b"print(end='\\x04\\x04x')"), b"OK\x04\x04x\x04\x04>"],
        [Output(b"\x04\x04x"), complete()],
        b"print(end='\\x04\\x04x')\x04",
    ),
    Conversation(
        "interrupted-loop",
        [call(b"while True: pass"), b"OK", interrupt, b"\x04" + UNIX_KEYBOARD_INTERRUPT + b"\x04>"],
        [complete(UNIX_KEYBOARD_INTERRUPT)],
        b"while True: pass\x04\x03",
    ),
    Conversation(
        "stderr-over-the-bound-is-truncated",
        [call(b"e()"), b"OK\x04" + BIG_ERROR + b"\x04>"],
        [complete(BIG_ERROR[:MAX_ERROR_BYTES], truncated=True)],
        b"e()\x04",
    ),
    Conversation(
        "stderr-at-the-bound-is-whole",
        [call(b"e()"), b"OK\x04" + BIG_ERROR[:MAX_ERROR_BYTES] + b"\x04>"],
        [complete(BIG_ERROR[:MAX_ERROR_BYTES])],
        b"e()\x04",
    ),
    Conversation(
        "sys-exit-soft-reboots-the-board-back-to-its-raw-prompt",
        [call(b"import sys; sys.exit()"), b"OK\x04\x04" + MPY_SOFT_REBOOT + BANNER],
        [Rebooted(), Ready()],
        b"import sys; sys.exit()\x04",
    ),
    Conversation(
        "a-reboot-after-output-and-with-boot-py-printing",
        [call(PRINT), b"OK2\n\x04\x04" + MPY_SOFT_REBOOT + b"boot.py says hi\r\n" + BANNER],
        [Output(b"2\n"), Rebooted(), Ready()],
        PRINT + b"\x04",
    ),
    Conversation(
        "microbit-1.9-says-soft-reboot-without-mpy",
        [call(b"r()"), b"OK\x04\x04soft reboot\r\n" + BANNER],
        [Rebooted(), Ready()],
        b"r()\x04",
    ),
    Conversation(
        "a-reboot-between-calls",
        [b"tick\r\n" + MPY_SOFT_REBOOT + BANNER, call(PRINT), UNIX_PRINT],
        [Unsolicited(b"tick\r\n" + MPY_SOFT_REBOOT), Rebooted(), Ready(), Output(b"2\n"), complete()],
        PRINT + b"\x04",
    ),
    Conversation(
        "a-reboot-before-the-call-started",
        [call(PRINT), MPY_SOFT_REBOOT + BANNER],
        [Unsolicited(MPY_SOFT_REBOOT), Rebooted(), Ready()],
        PRINT + b"\x04",
    ),
    Conversation(
        "a-reboot-instead-of-the-raw-paste-answer",
        [call(PRINT, raw_paste=True), MPY_SOFT_REBOOT + BANNER],
        [Unsolicited(MPY_SOFT_REBOOT), Rebooted(), Ready()],
        control.RAW_PASTE_REQUEST,
    ),
    Conversation(
        "output-that-only-begins-like-a-reboot-is-output",
        [call(b"p()"), b"OK\x04\x04MPY: soft\x04\x04>"],
        [Output(b"\x04\x04MPY: soft"), complete()],
        b"p()\x04",
    ),
    Conversation(
        "a-reboot-line-inside-a-call-s-output-is-output",
        [call(b"p()"), b"OK" + MPY_SOFT_REBOOT + b"\x04\x04>"],
        [Output(MPY_SOFT_REBOOT), complete()],
        b"p()\x04",
    ),
    Conversation(
        "a-call-after-a-call",
        [call(PRINT), UNIX_PRINT, call(b"1/0"), UNIX_ZERO_DIVISION],
        [Output(b"2\n"), complete(), complete(UNIX_TRACEBACK)],
        PRINT + b"\x04" + b"1/0\x04",
    ),
]

IDS = [conversation.name for conversation in CONVERSATIONS]


def check(conversation: Conversation, split: Splitter) -> None:
    proto, events, sent = conversation.play(split)
    assert events == conversation.events
    assert sent == conversation.sent
    assert proto.state is conversation.state
    assert proto.raw_paste_supported is conversation.raw_paste_supported
    assert not proto._inbox  # everything the board said was understood


@pytest.mark.parametrize("split", [whole, bytewise], ids=["whole", "bytewise"])
@pytest.mark.parametrize("conversation", CONVERSATIONS, ids=IDS)
def test_conversation(conversation: Conversation, split: Splitter) -> None:
    check(conversation, split)


@pytest.mark.parametrize("conversation", CONVERSATIONS, ids=IDS)
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_conversation_in_random_pieces(conversation: Conversation, data: st.DataObject) -> None:
    def random_split(turn: bytes) -> list[bytes]:
        return pieces(turn, data.draw(st.lists(st.integers(0, len(turn)), max_size=8)))

    check(conversation, random_split)


# --- sync -----------------------------------------------------------------------------


def test_sync_keeps_the_last_skipped_bytes_for_error_messages() -> None:
    proto = RawRepl()
    proto.sync()
    proto.receive_data(b"n" * 1000 + UNIX_SYNC_REPLY)
    assert proto.discarded == (b"n" * 1000 + b"\r\n>>> \r\n>>> \r\n>>> \r\n")[-256:]


@pytest.mark.parametrize("split", [whole, bytewise], ids=["whole", "bytewise"])
def test_sync_from_the_middle_of_a_call_drops_its_frame(split: Splitter) -> None:
    proto = idle_repl()
    run = feed(proto, [call(PRINT), b"OK2\n", sync, b"\x04\x04>" + UNIX_SYNC_REPLY], split)
    assert coalesce(run.events) == [Output(b"2\n"), Ready()]
    assert bytes(run.sent) == PRINT + b"\x04" + control.SYNC
    assert proto.state is State.IDLE


def test_soft_reset_awaits_the_banner_again() -> None:
    proto = idle_repl()
    proto.soft_reset()
    assert proto.data_to_send() == control.EOT
    assert proto.state is State.SYNCING
    proto.receive_data(b"OK\r\nMPY: soft reboot\r\n" + BANNER)
    assert proto.next_events() == [Ready()]


def test_soft_reset_is_refused_outside_the_prompt() -> None:
    proto = RawRepl()
    with pytest.raises(ProtocolError, match="unsynced"):
        proto.soft_reset()
    assert proto.data_to_send() == b""


# --- raw-paste flow control ----------------------------------------------------------


@pytest.mark.parametrize("split", [whole, bytewise], ids=["whole", "bytewise"])
def test_raw_paste_never_sends_past_the_window(split: Splitter) -> None:
    proto = idle_repl()
    steps: list[Step] = [call(LONG_CODE, raw_paste=True), UNIX_PASTE_ACCEPTED, b"\x01", b"\x01", b"\x01"]
    run = feed(proto, steps, split)
    code_per_turn = [len(sent) for sent in run.sent_per_turn[1:]]
    # 128 bytes plus the board's immediate extra ack, then one window per ack
    assert code_per_turn == [256, 128, 128, len(LONG_CODE) - 512 + 1]
    assert run.sent.endswith(b"\x04")
    assert proto.state is State.PASTE_ENDING


def test_window_acks_while_ending_the_paste_are_ignored() -> None:
    proto = idle_repl()
    run = feed(proto, [call(PRINT, raw_paste=True), UNIX_PASTE_ACCEPTED, b"\x01\x01\x042\n\x04\x04>"], whole)
    assert coalesce(run.events) == [Output(b"2\n"), complete()]


def test_a_zero_byte_window_is_a_protocol_error() -> None:
    proto = idle_repl()
    proto.start_call(PRINT, raw_paste=True)
    with pytest.raises(ProtocolError, match="window"):
        proto.receive_data(b"R\x01\x00\x00")


@pytest.mark.parametrize("byte", [b"\x00", b"x", b">"])
def test_stray_bytes_during_raw_paste_are_protocol_errors(byte: bytes) -> None:
    proto = idle_repl()
    proto.start_call(LONG_CODE, raw_paste=True)
    proto.receive_data(UNIX_PASTE_ACCEPTED)
    proto.data_to_send()
    with pytest.raises(ProtocolError, match="raw-paste"):
        proto.receive_data(byte)


def test_a_board_that_refused_raw_paste_is_not_asked_again() -> None:
    proto = idle_repl()
    feed(proto, [call(PRINT, raw_paste=True), b"R\x00", UNIX_PRINT], whole)
    proto.start_call(PRINT, raw_paste=True)
    assert proto.data_to_send() == PRINT + b"\x04"
    assert proto.state is State.AWAIT_OK


def test_raw_paste_known_unsupported_from_the_start_sends_plain() -> None:
    proto = idle_repl(raw_paste=False)
    proto.start_call(PRINT, raw_paste=True)
    assert proto.data_to_send() == PRINT + b"\x04"


# --- framing edge cases --------------------------------------------------------------


def test_reframing_is_refused_once_stderr_was_truncated() -> None:
    """The output after a printed ctrl-D was dropped as stderr overflow: it cannot be recovered."""
    proto = idle_repl()
    proto.start_call(b"big()")
    proto.receive_data(b"OKa\x04" + BIG_ERROR + b"\x04")
    with pytest.raises(ProtocolError, match="prompt"):
        proto.receive_data(b"\x04>")


def test_bytes_after_the_prompt_are_unsolicited() -> None:
    proto = idle_repl()
    run = feed(proto, [call(PRINT), UNIX_PRINT + b"late\n"], whole)
    assert coalesce(run.events) == [Output(b"2\n"), complete(), Unsolicited(b"late\n")]


def test_the_error_of_one_call_does_not_leak_into_the_next() -> None:
    proto = idle_repl()
    run = feed(proto, [call(b"1/0"), UNIX_ZERO_DIVISION, call(PRINT), UNIX_PRINT], whole)
    completions = [event for event in run.events if isinstance(event, CallComplete)]
    assert completions == [complete(UNIX_TRACEBACK), complete()]


# --- requests ------------------------------------------------------------------------


def test_interrupt_sends_ctrl_c_and_keeps_the_state() -> None:
    proto = idle_repl()
    proto.start_call(PRINT)
    proto.data_to_send()
    proto.interrupt()
    assert proto.data_to_send() == control.INTERRUPT
    assert proto.state is State.AWAIT_OK
    assert proto.in_call


def test_in_call_only_between_the_request_and_the_prompt() -> None:
    proto = RawRepl()
    assert not proto.in_call
    proto.sync()
    assert not proto.in_call
    proto.receive_data(UNIX_SYNC_REPLY)
    assert not proto.in_call
    proto.start_call(PRINT)
    assert proto.in_call
    proto.receive_data(UNIX_PRINT)
    assert not proto.in_call


def _unsynced() -> RawRepl:
    return RawRepl()


def _syncing() -> RawRepl:
    proto = RawRepl()
    proto.sync()
    return proto


def _in_call() -> RawRepl:
    proto = idle_repl()
    proto.start_call(PRINT)
    proto.receive_data(b"OK")
    return proto


def _pasting() -> RawRepl:
    proto = idle_repl()
    proto.start_call(PRINT, raw_paste=True)
    return proto


@pytest.mark.parametrize("make", [_unsynced, _syncing, _in_call, _pasting])
def test_start_call_is_refused_unless_idle(make: Callable[[], RawRepl]) -> None:
    proto = make()
    state = proto.state
    proto.data_to_send()
    with pytest.raises(ProtocolError, match="cannot start a call"):
        proto.start_call(b"print(2)")
    assert proto.state is state
    assert proto.data_to_send() == b""


# --- code escaping -------------------------------------------------------------------

FRAMING_BYTES = bytes(range(0x06))


def run_source(payload: bytes) -> bytes:
    """The source the board will run for ``payload``: itself, or what ``exec(b'...')`` holds."""
    if not payload.startswith(b"exec("):
        return payload
    tree = ast.parse(payload, mode="eval").body
    assert isinstance(tree, ast.Call) and isinstance(tree.func, ast.Name) and tree.func.id == "exec"
    assert len(tree.args) == 1 and not tree.keywords
    argument = tree.args[0]
    assert isinstance(argument, ast.Constant) and isinstance(argument.value, bytes)
    return argument.value


def test_other_control_bytes_are_sent_as_themselves() -> None:
    """Tab, ESC, XON/XOFF, DEL and the rest reach the board's lexer unchanged (both boards
    take them: tests/session/test_file_transfer.py sends every byte value)."""
    code = b"s = b'" + bytes([*range(0x06, 0x20), 0x7F]).replace(b"\n", b"").replace(b"\r", b"") + b"'"
    proto = idle_repl()
    proto.start_call(code, raw_paste=False)
    assert proto.data_to_send() == code + control.EOT


@pytest.mark.parametrize(
    "code",
    [
        b"print('\x04')",
        b"x = '\x01\x02\x03'",
        b"s = '\x00'",
        b"print('>\x04>')\r\nprint('\xe9\xff\xfe')\x05",
        b"b'\x05'",
    ],
)
@pytest.mark.parametrize("raw_paste", [False, True])
def test_code_with_framing_bytes_is_sent_escaped(code: bytes, raw_paste: bool) -> None:
    proto = idle_repl()
    proto.start_call(code, raw_paste=raw_paste)
    sent = proto.data_to_send()
    if raw_paste:
        assert sent == control.RAW_PASTE_REQUEST
        proto.receive_data(UNIX_PASTE_ACCEPTED)
        sent = proto.data_to_send()
    payload, end = sent[:-1], sent[-1:]
    assert end == control.EOT
    assert not set(payload) & set(FRAMING_BYTES)
    assert payload.startswith(b"exec(")
    assert run_source(payload) == code


@pytest.mark.parametrize(
    "code", [b"print('>>> ok')", b"x = 1\nprint(x)\r\n", "s = 'é'".encode(), b"\xe9 = 1"]
)
def test_code_without_control_bytes_is_sent_unchanged(code: bytes) -> None:
    assert control.escape_code(code) == code


def test_empty_code_is_not_a_bare_ctrl_d() -> None:
    """A ctrl-D alone at the raw prompt soft-resets the board."""
    proto = idle_repl()
    proto.start_call(b"")
    sent = proto.data_to_send()
    assert sent != control.EOT
    assert sent.endswith(control.EOT)
    assert sent[:-1].strip() == b""


def test_empty_code_in_raw_paste_still_ends_the_paste() -> None:
    proto = idle_repl()
    run = feed(proto, [call(b"", raw_paste=True), UNIX_PASTE_ACCEPTED, b"\x04\x04\x04>"], whole)
    assert run.sent_per_turn[1].endswith(control.EOT)  # ended before the board says anything more
    assert coalesce(run.events) == [complete()]


@settings(max_examples=200)
@given(code=st.binary(max_size=200))
def test_escaped_code_has_no_framing_bytes_and_runs_the_same_source(code: bytes) -> None:
    payload = control.escape_code(code)
    assert payload
    assert not set(payload) & set(FRAMING_BYTES)
    if payload != code:
        assert run_source(payload) == (code or b"\n")


@pytest.mark.parametrize(
    ("seen", "fragment"),
    [
        (b"", False),
        (b"xyz", False),
        (b"raw RE", True),
        (b"\x04>", True),
        (b"noise> \r\n", True),
        (b"ra", False),
    ],
)
def test_a_prompt_fragment_is_recognised(seen: bytes, fragment: bool) -> None:
    assert control.holds_prompt_fragment(seen) is fragment
