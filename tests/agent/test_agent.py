"""The device agent on both virtual boards: installed once, recognised after, sessions apart."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from session_helpers import agent_stats, answer, exec_call

from belay.agent import calls
from belay.agent.install import agent_files, agent_version, ensure_agent
from belay.device import Device

pytestmark = pytest.mark.anyio

BOARDS = [
    "unix",
    pytest.param(
        "microbit",
        marks=[
            pytest.mark.microbit,
            pytest.mark.skipif(shutil.which("qemu-system-arm") is None, reason="qemu-system-arm missing"),
        ],
    ),
]

TOKEN_A, TOKEN_B, TOKEN_H = "token-of-a-0001", "token-of-b-0002", "token-of-h-0003"
"""Tokens longer than ten characters, as the host's are (shorter constants are interned for good)."""


@pytest.fixture(params=["asyncio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(params=BOARDS)
async def device(request: pytest.FixtureRequest) -> AsyncIterator[Device]:
    async with await Device.open(request.param) as opened:
        yield opened


async def test_first_install_sends_the_agent_and_a_second_sends_nothing(device: Device) -> None:
    first = await ensure_agent(device)
    assert first.bytes_sent == sum(len(body) for body in agent_files(device.capabilities.threads).values())
    assert first.version == agent_version()
    second = await ensure_agent(device)
    assert (second.bytes_sent, second.reset) == (0, False)
    assert await answer(device, calls.version()) == agent_version()


async def test_threads_part_is_sent_only_to_boards_with_threads(device: Device) -> None:
    files = agent_files(device.capabilities.threads)
    assert ("belay_agent_threads.py" in files) == device.capabilities.threads


async def test_two_sessions_keep_their_own_namespaces(device: Device) -> None:
    # ensure_agent loads the core only: its calls are the unguarded ones
    await ensure_agent(device)
    await device.exec(calls.begin(TOKEN_A, "a", 30000, []) + "\n" + calls.begin(TOKEN_B, "b", 30000, []))
    await device.exec(
        exec_call(device, TOKEN_A, "def read():\n return 1")
        + "\n"
        + exec_call(device, TOKEN_B, "def read():\n return 2")
    )
    assert await answer(device, calls.call_task(TOKEN_A, "read", "", False)) == 1
    assert await answer(device, calls.call_task(TOKEN_B, "read", "", False)) == 2
    assert await answer(device, calls.end(TOKEN_A, 200)) == []
    assert await answer(device, calls.call_task(TOKEN_B, "read", "", False)) == 2
    stats = await agent_stats(device)
    assert list(stats["sessions"]) == ["b"]
    await answer(device, calls.end(TOKEN_B, 200))


async def test_ending_a_session_gives_its_heap_back(device: Device) -> None:
    await ensure_agent(device)
    before = await device.eval_code("import gc\ngc.collect()\nprint(gc.mem_free())")
    await device.exec(calls.begin(TOKEN_H, "h", 30000, []))
    await device.exec(exec_call(device, TOKEN_H, "data = [bytearray(64) for _ in range(20)]"))
    during = await device.eval_code("gc.collect()\nprint(gc.mem_free())")
    assert before - during > 20 * 64
    assert await answer(device, calls.end(TOKEN_H, 200)) == []
    after = await device.eval_code("gc.collect()\nprint(gc.mem_free())")
    assert abs(before - after) <= 128


async def test_unix_board_keeps_agent_files_in_its_own_filesystem() -> None:
    async with await Device.open("unix") as device:
        await ensure_agent(device)
        filesystem = Path(device.transport.filesystem)  # type: ignore[attr-defined]
        assert (filesystem / "belay_agent.py").is_file()
        assert not Path("belay_agent.py").exists()
    assert not filesystem.exists()


async def test_a_users_belay_agent_py_is_repaired_after_a_reset(device: Device) -> None:
    await ensure_agent(device)
    await device.exec("f = open('belay_agent.py', 'w')\nf.write('x = 1\\n')\nf.close()\ndel f")
    await device.soft_reset()
    assert await device.eval("__import__('belay_agent').x") == 1  # the user's module, not the agent
    repaired = await ensure_agent(device)
    assert repaired.version == agent_version()
    assert repaired.bytes_sent == sum(len(body) for body in agent_files(device.capabilities.threads).values())
    assert await answer(device, calls.version()) == agent_version()
    again = await ensure_agent(device)
    assert (again.bytes_sent, again.reset) == (0, False)
