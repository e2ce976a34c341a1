"""The Telnet decoder of ``rfc2217://`` ports, fed scripted bytes in every split."""

from __future__ import annotations

import pytest

from belay.transports import telnet
from belay.transports.telnet import COM_PORT_OPTION, DO, DONT, ECHO, IAC, SB, SE, WILL, WONT, TelnetDecoder

DATA = bytes(range(256)) * 3
ON_THE_WIRE = (
    bytes((IAC, DO, COM_PORT_OPTION))
    + telnet.escape(DATA[:300])
    + bytes((IAC, SB, COM_PORT_OPTION, 107, 0x30, IAC, IAC, IAC, SE))  # a modem-state notice
    + bytes((IAC, DO, ECHO, IAC, 241))  # an option we refuse, a NOP
    + telnet.escape(DATA[300:])
)


def decode_in(pieces: list[bytes]) -> tuple[bytes, bytes, TelnetDecoder]:
    decoder = TelnetDecoder()
    data = b"".join(decoder.feed(piece) for piece in pieces)
    return data, decoder.take_replies(), decoder


@pytest.mark.parametrize("split", ["whole", "bytes", "halves", "thirds"])
def test_data_comes_out_whole_however_the_stream_is_split(split: str) -> None:
    size = {"whole": len(ON_THE_WIRE), "bytes": 1, "halves": len(ON_THE_WIRE) // 2 + 1, "thirds": 7}[split]
    pieces = [ON_THE_WIRE[start : start + size] for start in range(0, len(ON_THE_WIRE), size)]
    data, replies, decoder = decode_in(pieces)
    assert data == DATA
    assert replies == bytes((IAC, WONT, ECHO))
    assert decoder.com_port is True


def test_every_split_point_of_an_escaped_iac_gives_the_same_bytes() -> None:
    wire = b"a" + bytes((IAC, IAC)) + b"b" + bytes((IAC, WILL, ECHO)) + b"c"
    for cut in range(len(wire) + 1):
        data, replies, _ = decode_in([wire[:cut], wire[cut:]])
        assert (data, replies) == (b"a\xffbc", bytes((IAC, DO, ECHO))), cut


def test_an_agreed_option_is_not_answered_again_so_peers_never_loop() -> None:
    decoder = TelnetDecoder()
    decoder.feed(bytes((IAC, DO, telnet.BINARY, IAC, WILL, telnet.BINARY)) * 3)
    assert decoder.take_replies() == b""  # both asked for in the preamble: already agreed
    decoder.feed(bytes((IAC, DONT, telnet.BINARY)) * 2)
    assert decoder.take_replies() == bytes((IAC, WONT, telnet.BINARY))


def test_a_refused_com_port_option_is_reported() -> None:
    decoder = TelnetDecoder()
    assert decoder.feed(bytes((IAC, DONT, COM_PORT_OPTION)) + b"x") == b"x"
    assert decoder.com_port is False


def test_settings_escape_a_baud_rate_holding_iac() -> None:
    settings = telnet.rfc2217_settings(0x0001FFFF)
    baud = bytes((IAC, SB, COM_PORT_OPTION, telnet.SET_BAUDRATE, 0, 1, IAC, IAC, IAC, IAC, IAC, SE))
    assert baud in settings
    decoder = TelnetDecoder()
    assert decoder.feed(settings) == b""  # nothing of it is data


def test_answers_are_owed_until_taken() -> None:
    decoder = TelnetDecoder()
    decoder.feed(bytes((IAC, DO, ECHO)))
    assert decoder.owes
    assert decoder.take_replies() == bytes((IAC, WONT, ECHO))
    assert not decoder.owes
