"""Threads that session code starts with ``_thread`` itself are the session's: listed, their
prints kept for ``session.output()``, stopped at the session's end at their next sleep or print
(no ``belay_agent.running()`` in sight), and a stubborn one named. Outside sessions the board's
own ``_thread`` and ``time`` are untouched. On the unix board (the micro:bit has no threads)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import anyio
import pytest
from session_helpers import agent_stats

from belay import DeviceSessionManager, ResourceCleanupError
from belay.device import Device

pytestmark = pytest.mark.anyio

PULSE = (
    "import _thread, time\nn = [0]\n\n\ndef _pulse():\n    while True:\n        n[0] += 1\n"
    "        time.sleep(0.2)\n\n\ndef start():\n    _thread.start_new_thread(_pulse, ())\n"
)
"""A module whose thread counts in its own globals (which a session's end does not clear) and
sleeps with ``time``: without adoption it would run on for good."""


@pytest.fixture
async def manager() -> AsyncIterator[DeviceSessionManager]:
    async with DeviceSessionManager() as opened:
        yield opened


def board_of(manager: DeviceSessionManager) -> Device:
    board = manager.board("unix")
    assert board is not None
    return board.device


async def count_of(device: Device) -> int:
    return int(await device.eval_code("import sys\nprint(sys.modules['pulse_kept'].m.n[0])"))


async def test_a_module_thread_started_with_thread_itself_ends_with_the_session(
    manager: DeviceSessionManager,
) -> None:
    async with manager.session("unix") as keeper:  # the agent loaded, a holder outside the session
        await keeper.fs.put(PULSE.encode(), "pulse.py")
    device = board_of(manager)
    await device.exec("import sys\nclass Kept:\n    m = None\nsys.modules['pulse_kept'] = Kept")
    async with manager.session("unix") as session:
        await session.exec("import sys, pulse\nsys.modules['pulse_kept'].m = pulse\npulse.start()")
        threads = (await session.board_stats())["threads"]
        assert [(re.sub(r"\d+$", "N", name), state) for name, state in threads.items()] == [
            ("_pulse#N", ["running", None])
        ]
        await anyio.sleep(0.5)
    stopped = await count_of(device)
    assert stopped >= 2, "the thread never ran"
    await anyio.sleep(0.6)  # three of its periods: a thread still running would have counted on
    assert await count_of(device) == stopped
    stats = await agent_stats(device)
    assert stats["zombies"] == {} and stats["sessions"] == {}
    await device.exec("import sys\ndel sys.modules['pulse_kept']\nimport os\nos.remove('pulse.py')")


async def test_what_an_adopted_thread_prints_is_kept_for_the_session_and_a_print_is_a_stop_point(
    manager: DeviceSessionManager,
) -> None:
    chatty = (
        "import _thread\nseen = [0]\n\n\ndef chat(tag):\n    while True:\n        seen[0] += 1\n"
        "        if seen[0] % 5000 == 1:\n            print(tag, seen[0] > 1)\n\n\n"
        "_thread.start_new_thread(chat, ('chat',))\n"
    )  # never sleeps: its prints alone are where it stops
    async with manager.session("unix") as session:
        printed = await session.exec(chatty)
        assert printed == "", "a thread's print reached the call's output"
        found = ""
        with anyio.fail_after(10):
            while "chat True" not in found:
                found += await session.output()
                await anyio.sleep(0.05)
        assert found.startswith("chat False\nchat True\n")
    stats = await agent_stats(board_of(manager))
    assert stats["zombies"] == {}


async def test_a_thread_started_by_a_session_thread_is_the_session_s_too(
    manager: DeviceSessionManager,
) -> None:
    async with manager.session("unix") as session:

        @session.thread
        def parent():  # type: ignore[no-untyped-def]
            import _thread
            import time

            def child():  # type: ignore[no-untyped-def]
                while True:
                    time.sleep_ms(20)

            _thread.start_new_thread(child, ())
            while True:
                time.sleep_ms(20)

        await parent()
        with anyio.fail_after(10):
            while len((await session.board_stats())["threads"]) < 2:  # noqa: ASYNC110 - polling the board is the test
                await anyio.sleep(0.05)
        names = sorted((await session.board_stats())["threads"])
        assert names[0].startswith("child#") and names[1] == "parent-1"
    stats = await agent_stats(board_of(manager))
    assert stats["zombies"] == {} and stats["sessions"] == {}


async def test_a_thread_that_neither_sleeps_nor_prints_is_named_at_the_end(
    manager: DeviceSessionManager,
) -> None:
    spin = (  # only locals: a thread reading its session's globals fails once the end clears them
        "import _thread, sys\n\n\ndef spin(go):\n    n = 0\n    while go.on:\n        n += 1\n\n\n"
        "_thread.start_new_thread(spin, (sys.modules['spin_go'],))\n"
    )
    async with manager.session("unix"):  # the agent loaded, a switch outside any session
        pass
    await board_of(manager).exec("import sys\nclass Go:\n    on = 1\nsys.modules['spin_go'] = Go\ndel Go")
    with anyio.fail_after(30), pytest.raises(ResourceCleanupError, match=r"thread spin#\d+ did not stop"):
        async with manager.session("unix") as session:
            await session.exec(spin)
    device = board_of(manager)
    zombies = (await agent_stats(device))["zombies"]
    assert [re.sub(r"^[^/]+/spin#\d+$", "S/spin#N", name) for name in zombies] == ["S/spin#N"]
    await device.exec("import sys\nsys.modules.pop('spin_go').on = 0")
    with anyio.fail_after(10):
        while (await agent_stats(device))["zombies"]:  # noqa: ASYNC110 - polling the board is the test
            await anyio.sleep(0.05)


async def test_outside_sessions_the_board_keeps_its_own_thread_and_time(
    manager: DeviceSessionManager,
) -> None:
    async with manager.session("unix") as session:
        assert await session.eval("type(__import__('_thread')).__name__") != "module"
    device = board_of(manager)
    kinds = await device.eval_code(
        "import sys\nprint(repr((type(__import__('_thread')).__name__, type(__import__('time')).__name__, "
        "'_thread' in sys.modules, 'time' in sys.modules)))"
    )
    assert kinds == ("module", "module", False, False)


async def test_print_itself_started_as_a_thread_is_kept_too(manager: DeviceSessionManager) -> None:
    async with manager.session("unix") as session:
        started = "import _thread, time\n_thread.start_new_thread(print, ('direct',))\ntime.sleep_ms(100)"
        assert await session.exec(started) == ""
        assert await session.output() == "direct\n"
