"""What a failing board test reports: the test's own frame, then the error with the board's
traceback, without belay's frames or anyio's; plain tests run with the event loop running; the
boards reach the JUnit XML. pytest runs in a subprocess on test files written here."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

pytestmark = pytest.mark.slow

BOARD_ERRORS = """
import pathlib

import pytest


@pytest.mark.anyio
async def test_async_divide(belay_session):
    pathlib.Path("tokens.txt").open("a").write(belay_session.token + "\\n")

    @belay_session.task
    def divide(a, b):
        return a // b

    assert await divide(7, 2) == 3
    await divide(1, 0)


def test_sync_divide(belay_sync_session):
    pathlib.Path("tokens.txt").open("a").write(belay_sync_session.session.token + "\\n")

    @belay_sync_session.task
    def divide(a, b):
        return a // b

    divide(1, 0)
"""

PLAIN_TESTS = """
import threading

import pytest


def test_assert_is_rewritten(belay_sync_session):
    x = belay_sync_session.eval("1 + 1")
    assert x == 3


def test_skip_from_the_body(belay_sync_session):
    pytest.skip("skipped from the body")


def test_from_a_thread_of_the_test(belay_sync_session):
    # the body waits in join() while another thread calls: the loop runs while the test does
    out = []
    thread = threading.Thread(target=lambda: out.append(belay_sync_session.eval("2 * 21")))
    thread.start()
    thread.join()
    assert out == [42]


@pytest.fixture
def plain_fixture(belay_sync_session):
    return belay_sync_session.eval("1 + 1")


def test_a_plain_fixture_is_told_what_to_use(plain_fixture):
    pass
"""

JUNIT = """
def test_one(belay_sync_session, record_testsuite_property):
    record_testsuite_property("mine", "kept")
    assert belay_sync_session.eval("1") == 1
"""


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "--belay-port", "unix", *args, timeout=120)


def section(result: pytest.RunResult, test: str) -> list[str]:
    """The report lines of ``test``'s failure, from its ``____ test ____`` header to the next."""
    lines = result.outlines
    start = next(i for i, line in enumerate(lines) if re.fullmatch(rf"_+ {test} _+", line))
    end = next(i for i in range(start + 1, len(lines)) if re.match(r"^(_{3,} |={3,} )", lines[i]))
    return lines[start:end]


@pytest.mark.parametrize("test", ["test_async_divide", "test_sync_divide"])
def test_a_board_error_is_reported_in_the_tests_frame_with_the_board_traceback(
    pytester: pytest.Pytester, test: str
) -> None:
    pytester.makepyfile(BOARD_ERRORS)
    result = run(pytester, "-k", test)
    result.assert_outcomes(failed=1)
    report = section(result, test)
    text = "\n".join(report)
    assert len(report) < 25, text
    internals = ("belay/session/", "belay/device.py", "belay/testing/", "anyio/", "asyncio/", "concurrent/")
    for internal in internals:
        assert internal not in result.stdout.str(), text
    expected = [
        ">       *divide(1, 0)",
        "E       belay.errors.DeviceExecError: ZeroDivisionError: divide by zero",
        "E       ",
        "E       Board traceback (most recent call last):",
        'E         File "*", line *, in divide',  # "<string>", or the host file once mapped
        "E       ZeroDivisionError: divide by zero",
        "",
        "test_a_board_error_is_reported_in_the_tests_frame_with_the_board_traceback.py:*: DeviceExecError",
    ]
    pytest.LineMatcher(report).fnmatch_lines(expected)
    result.stdout.fnmatch_lines([f"FAILED *::{test}*"])


def test_no_session_token_reaches_the_report(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(BOARD_ERRORS)
    result = run(pytester, "-l")  # even with the locals of every frame shown
    result.assert_outcomes(failed=2)
    tokens = (pytester.path / "tokens.txt").read_text().split()
    assert len(tokens) == 2 and all(len(token) == 11 for token in tokens)
    for token in tokens:
        assert token not in result.stdout.str()


def test_fulltrace_shows_belays_frames(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(BOARD_ERRORS)
    result = run(pytester, "-k", "test_async_divide", "--fulltrace")
    result.assert_outcomes(failed=1)
    assert "belay/session/" in result.stdout.str()


def test_plain_tests_run_with_the_loop_running(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(PLAIN_TESTS)
    result = run(pytester, "-rs")
    result.assert_outcomes(passed=1, failed=1, skipped=1, errors=1)
    result.stdout.fnmatch_lines([">       assert x == 3", "E       assert 2 == 3"])
    result.stdout.fnmatch_lines(["SKIPPED * skipped from the body"])
    result.stdout.fnmatch_lines(
        [
            "*ERROR at setup of test_a_plain_fixture_is_told_what_to_use*",
            "E       RuntimeError: belay_sync_session works in the body of a plain `def` test*",
        ]
    )
    assert "belay/testing/" not in result.stdout.str()


def test_the_board_is_a_junit_testsuite_property_beside_the_users_own(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(JUNIT)
    result = run(pytester, "--junitxml=reports/out.xml")
    result.assert_outcomes(passed=1)
    root = ET.parse(pytester.path / "reports" / "out.xml").getroot()
    suite = root.find("testsuite")
    assert suite is not None
    properties = suite.findall("properties")
    assert len(properties) == 1 and list(suite).index(properties[0]) == 0
    found = {p.get("name"): p.get("value") for p in properties[0]}
    assert found["mine"] == "kept"
    assert re.fullmatch(r"micropython \S+ on linux \(unix\)", found["belay_board_main"] or "")
    assert [case.get("name") for case in suite.iter("testcase")] == ["test_one"]
