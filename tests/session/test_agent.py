"""The device agent on both virtual boards: installed once, recognised after, sessions apart."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from belay.device import Device
from belay.device_files import device_file
from belay.agent.install import agent_files, agent_version, ensure_agent

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
    assert await device.eval("_ba.VERSION") == agent_version()


async def test_threads_part_is_sent_only_to_boards_with_threads(device: Device) -> None:
    files = agent_files(device.capabilities.threads)
    assert ("belay_agent_threads.py" in files) == device.capabilities.threads


async def test_two_sessions_keep_their_own_namespaces(device: Device) -> None:
    await ensure_agent(device)
    await device.exec("_ba.begin('ta', 'a', 30000)\n_ba.begin('tb', 'b', 30000)")
    await device.exec("_ba.x('ta', 'def read():\\n return 1')\n_ba.x('tb', 'def read():\\n return 2')")
    assert await device.eval_code("_ba.c('ta', 'read')") == 1
    assert await device.eval_code("_ba.c('tb', 'read')") == 2
    assert await device.eval_code("_ba.end('ta')") == []
    assert await device.eval_code("_ba.c('tb', 'read')") == 2
    stats = await device.eval_code(device_file("agent_stats.py"))
    assert list(stats["sessions"]) == ["b"]
    await device.eval_code("_ba.end('tb')")


async def test_ending_a_session_gives_its_heap_back(device: Device) -> None:
    await ensure_agent(device)
    before = await device.eval_code("import gc\ngc.collect()\nprint(gc.mem_free())")
    await device.exec("_ba.begin('th', 'h', 30000)")
    await device.exec("_ba.x('th', 'data = [bytearray(64) for _ in range(20)]')")
    during = await device.eval_code("gc.collect()\nprint(gc.mem_free())")
    assert before - during > 20 * 64
    assert await device.eval_code("_ba.end('th')") == []
    after = await device.eval_code("gc.collect()\nprint(gc.mem_free())")
    assert abs(before - after) <= 128


async def test_unix_board_keeps_agent_files_in_its_own_filesystem() -> None:
    async with await Device.open("unix") as device:
        await ensure_agent(device)
        filesystem = Path(device.transport.filesystem)  # type: ignore[attr-defined]
        assert (filesystem / "belay_agent.py").is_file()
        assert not Path("belay_agent.py").exists()
    assert not filesystem.exists()
