"""The pytest plugin as users meet it: pytest runs in a subprocess (with its own boards, all of which
end with it) on test files written here, and what it reports is checked."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

pytestmark = pytest.mark.slow

PORT_TEST = """
def test_port(belay_port):
    print("PORT", belay_port)
"""

LEAKY = """
import pytest

pytestmark = pytest.mark.anyio


async def test_blinks_forever(belay_session):
    @belay_session.thread
    def blink():
        import belay_agent
        while True:  # never asks belay_agent.running(), and the agent's own sleep is no stop point
            belay_agent.sleep_ms(10)

    await blink()


async def test_leaves_a_global_and_a_file(belay_session):
    await belay_session.exec("import __main__\\n__main__.stray = 1")
    await belay_session.fs.put(b"x", "stray.txt")


def test_clean(belay_sync_session):
    assert belay_sync_session.eval("1 + 1") == 2
"""

REQUIRES = """
import pytest


@pytest.mark.belay_requires("threads")
def test_needs_threads(belay_sync_session):
    assert belay_sync_session.capabilities.threads


@pytest.mark.belay_requires("filesystem")
def test_needs_a_filesystem(belay_device_info):
    assert belay_device_info.implementation == "micropython"


@pytest.mark.belay_requires("thread")
def test_misspelt(belay_device_info):
    pass


@pytest.mark.belay_requires("threads")
def test_no_board_fixture():
    pass
"""

WHERE = """
import os
import pytest


@pytest.mark.parametrize("n", range(2))
def test_where(belay_sync_session, record_property, n):
    record_property("platform_seen", belay_sync_session.eval("__import__('sys').platform"))
    record_property("worker", os.environ.get("PYTEST_XDIST_WORKER", "main"))
"""


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=120)


def run_without_boards(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """In this process: quicker, for runs that open no board (and so start no event loop)."""
    return pytester.runpytest_inprocess("-p", "no:cacheprovider", *args)


def test_the_port_comes_from_the_option_the_environment_or_the_ini(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(PORT_TEST)
    pytester.makeini("[pytest]\nbelay_port = microbit\n")
    run_without_boards(pytester, "-s").stdout.fnmatch_lines(["*PORT microbit*"])
    monkeypatch.setenv("BELAY_PORT", "rfc2217://lab:4000")
    run_without_boards(pytester, "-s").stdout.fnmatch_lines(
        ["belay: testing on rfc2217://lab:4000", "*PORT rfc2217://lab:4000*"]
    )
    result = run_without_boards(pytester, "-s", "--belay-port", "/dev/ttyACM0", "--belay-port", "unix")
    result.stdout.fnmatch_lines(
        [
            "belay: 2 ports given without pytest-xdist: only /dev/ttyACM0 is tested (unix not)*",
            "*PORT /dev/ttyACM0*",
        ]
    )


def test_more_workers_than_serial_ports_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(PORT_TEST)
    result = run_without_boards(
        pytester, "-n", "3", "--belay-port", "/dev/ttyBELAY0", "--belay-port", "/dev/ttyBELAY1"
    )
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*pytest-xdist starts 3 workers but --belay-port lists 2 board(s)*use -n 2*"]
    )


def test_a_leak_fails_the_test_naming_what_it_left(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(LEAKY)
    result = run(pytester, "--belay-port", "unix")
    result.assert_outcomes(passed=3, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_blinks_forever*",
            "belay leak check: test_*.py::test_blinks_forever left * thing(s) on the board at unix:",
            "  - thread blink-1 *",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "belay leak check: test_*.py::test_leaves_a_global_and_a_file left 2 thing(s)*",
            "  - global name 'stray' added to the board's REPL namespace",
            "  - file 'stray.txt' left in the board's filesystem",
        ]
    )
    assert "test_clean" not in "\n".join(line for line in result.outlines if "leak check" in line)


def test_the_leak_check_can_be_turned_off(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(LEAKY)
    result = run(pytester, "--belay-port", "unix", "--no-belay-leak-check", "-k", "global")
    result.assert_outcomes(passed=1, deselected=2)
    result.stdout.fnmatch_lines(["belay: leak check off*"])


def test_requirements_skip_with_the_reason_on_the_unix_board(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(REQUIRES)
    result = run(pytester, "--belay-port", "unix", "-rs")
    result.assert_outcomes(passed=2, errors=2)
    result.stdout.fnmatch_lines(["*belay_requires: unknown capability thread*"])
    result.stdout.fnmatch_lines(["*belay_requires needs a board: use one of the fixtures belay_session*"])
    result.stdout.fnmatch_lines(["main: micropython * on linux (unix)"])


@pytest.mark.microbit
def test_requirements_skip_with_the_reason_on_the_microbit(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(REQUIRES)
    result = run(pytester, "--belay-port", "microbit", "-rs", "-k", "needs")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(
        ["SKIPPED * the board on microbit (micropython 1.9.2 on microbit (microbit)) lacks threads"]
    )


@pytest.mark.microbit
def test_xdist_gives_each_worker_its_own_board(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(WHERE)
    result = run(
        pytester, "-n", "2", "--dist", "each", "--belay-port", "unix", "--belay-port", "microbit",
        "--junitxml=out.xml",
    )  # fmt: skip
    result.assert_outcomes(passed=4)
    result.stdout.fnmatch_lines(["belay: 2 workers, one board each: gw0 -> unix, gw1 -> microbit*"])
    result.stdout.fnmatch_lines(
        ["gw0: micropython * on linux (unix)", "gw1: micropython 1.9.2 on microbit (microbit)"]
    )
    root = ET.parse(pytester.path / "out.xml").getroot()
    seen = set()
    for case in root.iter("testcase"):
        properties = {p.get("name"): p.get("value") for p in case.iter("property")}
        seen.add((properties["worker"], properties["belay_port"], properties["platform_seen"]))
    assert seen == {("gw0", "unix", "linux"), ("gw1", "microbit", "microbit")}
    suite = {p.get("name"): p.get("value") for p in root.find("testsuite/properties") or []}
    assert suite["belay_board_gw1"] == "micropython 1.9.2 on microbit (microbit)"
