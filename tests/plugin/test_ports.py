"""Which board each pytest process tests (no boards needed)."""

from __future__ import annotations

import pytest

from belay.testing.identity import missing_capabilities
from belay.testing.ports import PortPlan, PortPlanError, requested_ports, worker_index


def test_the_command_line_wins_then_the_environment_then_the_ini_then_unix() -> None:
    assert requested_ports(["/dev/ttyACM0"], "microbit", ["unix"]) == ("/dev/ttyACM0",)
    assert requested_ports(None, "microbit, /dev/ttyUSB0", ["unix"]) == ("microbit", "/dev/ttyUSB0")
    assert requested_ports(None, "", ["rfc2217://lab:4000"]) == ("rfc2217://lab:4000",)
    assert requested_ports(None, None, []) == ("unix",)


def test_each_worker_gets_its_own_board() -> None:
    plan = PortPlan(("unix", "microbit"), workers=2)
    assert [plan.port_for(worker_index(f"gw{n}")) for n in range(2)] == ["unix", "microbit"]
    assert plan.describe() == ["belay: 2 workers, one board each: gw0 -> unix, gw1 -> microbit"]


def test_workers_beyond_the_list_start_virtual_boards_again() -> None:
    plan = PortPlan(("/dev/ttyACM0", "unix"), workers=4)
    assert [plan.port_for(n) for n in range(4)] == ["/dev/ttyACM0", "unix", "unix", "unix"]


def test_more_workers_than_serial_ports_is_refused_with_the_counts() -> None:
    with pytest.raises(PortPlanError, match=r"starts 3 workers but --belay-port lists 2 board\(s\)"):
        PortPlan(("/dev/ttyACM0", "/dev/ttyACM1"), workers=3)
    with pytest.raises(PortPlanError, match="listed twice"):
        PortPlan(("/dev/ttyACM0", "/dev/ttyACM0"), workers=2)


def test_without_xdist_the_first_port_is_tested_and_the_header_says_so() -> None:
    plan = PortPlan(("/dev/ttyACM0", "microbit"))
    assert plan.port_for(None) == "/dev/ttyACM0"
    assert "only /dev/ttyACM0 is tested (microbit not)" in "\n".join(plan.describe())
    assert "not tested (fewer workers than ports): microbit" in "\n".join(
        PortPlan(("unix", "microbit"), workers=1).describe()
    )


def test_a_timer_requirement_is_met_by_threads() -> None:
    from belay.board_info import Capabilities

    def caps(threads: bool, timer: bool) -> Capabilities:
        return Capabilities(threads, timer, False, True, False, (), None, False, 0, 0)

    assert missing_capabilities(caps(threads=True, timer=False), ["timer", "threads"]) == []
    assert missing_capabilities(caps(threads=False, timer=False), ["threads", "timer", "filesystem"]) == [
        "threads",
        "timer",
    ]
