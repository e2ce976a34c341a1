"""Output: what code prints comes back from exec, streamed as it arrives, and never mixes with values."""

from __future__ import annotations

import pytest

from belay import DeviceSession

pytestmark = pytest.mark.anyio


async def test_exec_returns_what_the_code_printed(belay_session: DeviceSession) -> None:
    assert await belay_session.exec("for i in range(3):\n    print('line', i)") == "line 0\nline 1\nline 2\n"


async def test_output_is_streamed_as_it_arrives(belay_session: DeviceSession) -> None:
    chunks: list[bytes] = []
    printed = await belay_session.exec("for i in range(20):\n    print(i)", on_output=chunks.append)
    assert b"".join(chunks).decode().replace("\r\n", "\n") == printed
    assert printed.split() == [str(i) for i in range(20)]


async def test_a_task_that_prints_still_returns_its_value(belay_session: DeviceSession) -> None:
    @belay_session.task
    def noisy():  # type: ignore[no-untyped-def]
        print("not the value")  # noqa: T201 - runs on the board
        return [1, 2]

    assert await noisy() == [1, 2]
