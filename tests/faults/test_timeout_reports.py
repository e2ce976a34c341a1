"""A timeout reads like a board error: the caller's line, what timed out, after how long, on
which board; none of anyio's or asyncio's insides chained to it (``raise ... from None``), the
cause kept on the error for a debugger. In a script and in a pytest report, by line count."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from belay import DeviceSessionManager, SessionOptions
from belay.errors import DeviceTimeoutError

INTERNALS = ("During handling", "direct cause", "fail_at", "wait_readable", "CancelledError", "cancel scope")

SCRIPT = """
import anyio
from belay import DeviceSessionManager, SessionOptions

async def main() -> None:
    async with DeviceSessionManager(SessionOptions()) as manager:
        async with manager.session("unix") as session:
            await session.exec({code!r}, timeout=0.5)

anyio.run(main)
"""


def traceback_of(tmp_path: Path, code: str) -> list[str]:
    script = tmp_path / "script.py"
    script.write_text(SCRIPT.format(code=code))
    result = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 1
    return result.stderr.strip().splitlines()


def test_a_scripts_timeout_traceback_is_no_longer_than_a_board_errors(tmp_path: Path) -> None:
    timeout = traceback_of(tmp_path, "while True: pass")
    board_error = traceback_of(tmp_path, "1/0")
    text = "\n".join(timeout)
    assert len(timeout) <= len(board_error) - 2, text  # the board error's carries the board's traceback
    assert text.count("Traceback (most recent call last)") == 1, text
    for internal in INTERNALS:
        assert internal not in text
    assert 'script.py", line 8, in main' in text  # the caller's line
    assert timeout[-1] == (
        "belay.errors.DeviceTimeoutError: exec on unix did not finish within 0.5s; it was interrupted"
    )


REPORTED = """
import pytest

@pytest.mark.anyio
async def test_spins(belay_session):
    await belay_session.exec("while True: pass", timeout=0.5)
"""


@pytest.mark.slow
def test_a_pytest_reports_timeout_is_the_tests_line_and_one_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(REPORTED)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--belay-port", "unix", timeout=120)
    result.assert_outcomes(failed=1)
    lines = result.outlines
    start = next(i for i, line in enumerate(lines) if re.fullmatch(r"_+ test_spins _+", line))
    end = next(i for i in range(start + 1, len(lines)) if re.match(r"^(_{3,} |={3,} )", lines[i]))
    report = lines[start:end]
    text = "\n".join(report)
    assert len(report) < 15, text
    for internal in (*INTERNALS, "anyio/", "asyncio/", "belay/device.py"):
        assert internal not in text
    pytest.LineMatcher(report).fnmatch_lines(
        [
            '>       await belay_session.exec("while True: pass", timeout=0.5)',
            "E       belay.errors.DeviceTimeoutError: exec on unix did not finish within 0.5s; it was *",
        ]
    )


@pytest.mark.anyio
async def test_the_cause_is_kept_for_a_debugger() -> None:
    async with DeviceSessionManager(SessionOptions()) as manager, manager.session("unix") as session:
        with pytest.raises(DeviceTimeoutError) as caught:
            await session.exec("while True: pass", timeout=0.3)
        assert await session.eval("1 + 1") == 2
    error = caught.value
    assert error.__cause__ is None and error.__suppress_context__
    assert isinstance(error.cause, BaseException)
    assert (error.port, error.timeout) == ("unix", 0.3)
