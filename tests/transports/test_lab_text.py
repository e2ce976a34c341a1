"""What belay reads of labgrid's text, on text recorded from labgrid 26.0.1's ``labgrid-client``
(runs without labgrid; tests/lab runs it against a real coordinator), and what it shows of it."""

from __future__ import annotations

import pytest

from belay.cli.lab import format_places
from belay.errors import PortNotFoundError
from belay.testing.identity import BoardReport, describe
from belay.transports.lab_client import LabPlace, parse_lab_port, parse_places

PLACES = """\
Place 'bench-1':
  tags: board=unix
  matches:
    exporter/bench-1/*
  acquired: vm/root
  acquired resources:
    exporter/bench-1/NetworkSerialPort/RawSerialPort
  created: 2026-12-06 02:34:13.907575
  changed: 2026-12-06 02:38:41.065740
Place 'bench-2':
  tags: board=unix, rack=a
  matches:
    rack-a/bench-2/*
    */spare/*
  acquired: None
  acquired resources:
  created: 2026-12-06 02:34:14.752730
  changed: 2026-12-06 02:34:15.310804
Place 'bare':
  matches:
  acquired: None
"""


def test_the_places_listing_gives_tags_exporters_and_holders() -> None:
    assert parse_places(PLACES) == [
        LabPlace("bench-1", {"board": "unix"}, ("exporter",), "vm/root"),
        LabPlace("bench-2", {"board": "unix", "rack": "a"}, ("rack-a", "*"), None),
        LabPlace("bare", {}, (), None),
    ]
    assert [place.name for place in parse_places(PLACES) if place.has({"board": "unix", "rack": "a"})] == [
        "bench-2"
    ]
    assert parse_places("") == []


def test_belay_lab_places_shows_them_as_a_table() -> None:
    assert format_places(parse_places(PLACES)).splitlines() == [
        "PLACE    TAGS               EXPORTER  HELD BY",
        "bench-1  board=unix         exporter  vm/root",
        "bench-2  board=unix,rack=a  rack-a,*  free",
        "bare     -                  -         free",
    ]


@pytest.mark.parametrize(
    ("port", "expected"),
    [("labgrid:bench-1", ("bench-1", {})), ("labgrid:board=esp32", (None, {"board": "esp32"})),
     ("labgrid:board=esp32, rack=a", (None, {"board": "esp32", "rack": "a"}))],
)  # fmt: skip
def test_a_lab_port_names_a_place_or_tags(port: str, expected: tuple[str | None, dict[str, str]]) -> None:
    assert parse_lab_port(port) == expected


@pytest.mark.parametrize(
    ("port", "message"),
    [("labgrid:", "names no place"), ("labgrid:board=", "tags are KEY=VALUE pairs"),
     ("labgrid:board=a,rack", "tags are KEY=VALUE pairs")],
)  # fmt: skip
def test_a_bad_lab_port_is_refused_saying_what_it_takes(port: str, message: str) -> None:
    with pytest.raises(PortNotFoundError, match=message):
        parse_lab_port(port)


def test_a_boards_description_and_the_suite_properties_name_its_place_and_exporter() -> None:
    board = {"belay_port": "labgrid:board=unix", "belay_implementation": "micropython",
             "belay_version": "1.29.0", "belay_platform": "linux", "belay_place": "bench-2",
             "belay_exporter": "rack-a"}  # fmt: skip
    assert (
        describe(board)
        == "micropython 1.29.0 on linux (labgrid:board=unix: place bench-2 on exporter rack-a)"
    )
    report = BoardReport()
    report.boards = {"gw0": board, "gw1": {**board, "belay_port": "unix"} | {"belay_place": "bench-1"}}
    assert report.suite_properties() == [
        ("belay_board_gw0", describe(board)),
        ("belay_place_gw0", "bench-2"),
        ("belay_exporter_gw0", "rack-a"),
        ("belay_board_gw1", "micropython 1.29.0 on linux (unix: place bench-1 on exporter rack-a)"),
        ("belay_place_gw1", "bench-1"),
        ("belay_exporter_gw1", "rack-a"),
    ]
    plain = {key: value for key, value in board.items() if key not in ("belay_place", "belay_exporter")}
    assert describe(plain) == "micropython 1.29.0 on linux (labgrid:board=unix)"
