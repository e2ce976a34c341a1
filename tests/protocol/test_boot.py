"""A hard reset told from what the board prints as it boots, in every split and under fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from belay.protocol import Output, RawRepl, Ready, Rebooted, State, Unsolicited
from belay.protocol.boot import BootWatch

from .scripts import BANNER, MICROBIT_BOOT, UNIX_PRINT, bytewise, coalesce, idle_repl, pieces, whole

PRINT = b"print(2)"

ESP32_NOISE = (
    b"ets Jun  8 2016 00:22:57\r\n\r\nrst:0x1 (POWERON_RESET),boot:0x13 (SPI_FAST_FLASH_BOOT)\r\n"
    b"load:0x3fff0030,len:4540\r\nentry 0x40080400\r\n\xff\x00\xfe"
)
ESP32_BANNER = (
    b"MicroPython v1.22.0 on 2023-12-27; Generic ESP32 module with ESP32\r\n"
    b'Type "help()" for more information.\r\n>>> '
)
UNIX_BANNER = (
    b"MicroPython 9458e3a23f on 2026-07-05; linux [GCC 14.2.1] version\n"
    b"Use Ctrl-D to exit, Ctrl-E for paste mode\n>>> "
)
SPLITS = [pytest.param(whole, id="whole"), pytest.param(bytewise, id="bytewise")]


def play(proto: RawRepl, data: bytes, split: object) -> list[object]:
    for piece in split(data):  # type: ignore[operator]
        proto.receive_data(piece)
    return coalesce(proto.next_events())


def in_call() -> RawRepl:
    proto = idle_repl()
    proto.start_call(PRINT)
    proto.data_to_send()
    return proto


@pytest.mark.parametrize("split", SPLITS)
@pytest.mark.parametrize(
    "banner", [ESP32_BANNER, MICROBIT_BOOT, UNIX_BANNER], ids=["esp32", "microbit", "unix"]
)
def test_boot_noise_then_a_banner_mid_call_is_a_reboot(banner: bytes, split: object) -> None:
    proto = in_call()
    events = play(proto, b"OKpartial output\r\n" + ESP32_NOISE + banner, split)
    assert events[:-1] == [Output(b"partial output\r\n" + ESP32_NOISE + banner)]
    (rebooted,) = events[-1:]
    assert isinstance(rebooted, Rebooted) and rebooted.seen.endswith(b">>> ")
    assert proto.state is State.SYNCING and not proto.in_call
    proto.sync()  # the board is at its friendly REPL: only asking brings the raw one back
    assert play(proto, b"\r\n>>> " + BANNER, split) == [Ready()]


@pytest.mark.parametrize("split", SPLITS)
def test_a_banner_between_calls_is_a_reboot(split: object) -> None:
    proto = idle_repl()
    events = play(proto, ESP32_NOISE + ESP32_BANNER, split)
    assert events == [Unsolicited(ESP32_NOISE + ESP32_BANNER), Rebooted(events[-1].seen)]  # type: ignore[attr-defined]
    assert events[-1].seen  # type: ignore[attr-defined]


@pytest.mark.parametrize("split", SPLITS)
def test_a_friendly_prompt_where_ok_was_expected_is_a_reboot(split: object) -> None:
    proto = idle_repl()
    proto.start_call(PRINT)
    events = play(proto, b"print(1)\r\n>>> ", split)
    assert isinstance(events[-1], Rebooted)


@pytest.mark.parametrize("split", SPLITS)
def test_a_banner_while_resyncing_is_a_reboot_but_not_after_a_soft_reboot(split: object) -> None:
    proto = idle_repl()
    proto.sync()
    assert play(proto, ESP32_BANNER + b"\r\n>>> " + BANNER, split)[-2:] == [
        Rebooted(ESP32_BANNER[-160:]),
        Ready(),
    ]
    proto.start_call(PRINT)
    events = play(proto, b"OK\x04\x04MPY: soft reboot\r\n" + ESP32_BANNER, split)
    assert [type(event) for event in events] == [Rebooted]  # one reboot, not two


@pytest.mark.parametrize("split", SPLITS)
def test_a_soft_reboot_while_resyncing_is_a_reboot(split: object) -> None:
    proto = idle_repl()
    proto.sync()
    assert play(proto, b"MPY: soft reboot\r\n" + BANNER, split) == [Rebooted(), Ready()]


def test_the_first_sync_takes_a_banner_as_nothing_new() -> None:
    proto = RawRepl()
    proto.sync()
    assert play(proto, MICROBIT_BOOT + b"\r\n" + BANNER, whole) == [Ready()]


def test_output_that_only_mentions_micropython_is_output() -> None:
    proto = in_call()
    text = b"MicroPython v1.22 on 2024-01-01; a board\r\nno prompt follows\r\n"
    assert play(proto, b"OK" + text + UNIX_PRINT[2:], whole)[0] == Output(text + b"2\n")


@settings(max_examples=60, deadline=2000)
@given(noise=st.binary(max_size=300), cuts=st.lists(st.integers(0, 10_000), max_size=8))
def test_any_noise_then_a_banner_mid_call_is_one_reboot_in_any_split(noise: bytes, cuts: list[int]) -> None:
    noise = noise.replace(b"\x04", b"").replace(b"\n>>> ", b"")
    data = b"OK" + noise + ESP32_BANNER
    results = []
    for split in (lambda d: [d], lambda d: pieces(d, cuts)):
        proto = in_call()
        events = play(proto, data, split)
        results.append(events)
        assert [type(event) for event in events if not isinstance(event, Output)] == [Rebooted]
    assert results[0] == results[1]


@settings(max_examples=60, deadline=2000)
@given(data=st.binary(max_size=2000), cuts=st.lists(st.integers(0, 10_000), max_size=8))
def test_the_watch_keeps_a_bounded_tail_and_any_split_agrees(data: bytes, cuts: list[int]) -> None:
    one, many = BootWatch(), BootWatch()
    found_one = one.feed(data) is not None
    found_many = any([many.feed(piece) is not None for piece in pieces(data, cuts)])
    assert found_one == found_many
    assert len(many._tail) <= 384


def test_an_interrupt_mid_paste_sends_nothing_more_of_it_nor_a_ctrl_d() -> None:
    """The Ctrl-C ends the paste on the board; a Ctrl-D after it (the paste's end, or the
    acknowledgement of the board's) would reach its empty raw prompt and soft-reset it."""
    proto = idle_repl()
    proto.start_call(b"x = 1\n" * 100, raw_paste=True)
    proto.data_to_send()
    proto.receive_data(b"R\x01\x80\x00")
    assert len(proto.data_to_send()) == 128  # one window out
    proto.interrupt()
    proto.receive_data(b"\x01")  # the board acknowledges the window: room for more
    assert proto.data_to_send() == b"\x03"
    assert not proto.has_data_to_send
    proto.receive_data(b"\x04")  # the board ends the paste (its reader took the Ctrl-C)
    assert proto.data_to_send() == b""  # no acknowledgement
    proto.receive_data(b"\x04Traceback...\r\nKeyboardInterrupt: \r\n\x04>")
    assert proto.state is State.IDLE


def test_an_interrupt_before_the_board_answers_a_paste_request_sends_no_code() -> None:
    proto = idle_repl()
    proto.start_call(b"print(1)", raw_paste=True)
    proto.data_to_send()
    proto.interrupt()
    proto.receive_data(b"R\x00")  # refused: a plain call would follow, but it was interrupted
    assert proto.data_to_send() == b"\x03"
