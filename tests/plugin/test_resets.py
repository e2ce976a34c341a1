"""The leak check when a board reboots during a test: that test fails once, saying so, and the
next (innocent) test starts from a fresh baseline taken after the agent is back, and passes."""

from __future__ import annotations

import pytest

RESETTING = """
import pytest
from belay.errors import BelayError

RESET = {reset!r}


async def test_resets_and_says_nothing(belay_session):
    with pytest.raises(BelayError, match="rebooted"):
        await belay_session.exec(RESET)


async def test_innocent_after_a_caught_reset(belay_session):
    assert await belay_session.eval("2") == 2


async def test_resets_and_fails(belay_session):
    await belay_session.exec(RESET)


def test_innocent_after_a_failed_reset(belay_sync_session):
    assert belay_sync_session.eval("2") == 2
"""


@pytest.mark.parametrize(
    ("port", "reset"),
    [
        pytest.param("unix", "import sys\nsys.exit()", id="unix-soft-reset"),
        pytest.param(
            "microbit", "import microbit\nmicrobit.reset()", id="microbit-reset", marks=pytest.mark.microbit
        ),
    ],
)
def test_a_reboot_fails_its_own_test_once_and_the_next_starts_afresh(
    pytester: pytest.Pytester, port: str, reset: str
) -> None:
    pytester.makepyfile(RESETTING.format(reset=reset))
    result = run(pytester, "--belay-port", port)
    result.assert_outcomes(passed=3, failed=1, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_resets_and_says_nothing*",
            "belay leak check: test_*.py::test_resets_and_says_nothing left 1 thing(s) on the board at *",
            "  - the board rebooted during this test (the board on *rebooted*): everything on it is gone*",
        ]
    )
    failures = "\n".join(result.outlines)
    assert "teardown of test_resets_and_fails" not in failures  # it failed once, on its own error
    assert "innocent" not in "\n".join(
        line for line in result.outlines if "FAILED" in line or "ERROR" in line
    )


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", *args, timeout=180)
