"""Leases and tokens in the agent itself, driven through a raw device on both boards.

A session is known to the agent by a token; a caller without it is refused and nothing of the
session is touched. A session whose lease runs out is reaped: by the next ``begin`` on every
board, by the reaper thread on boards with threads, never in the middle of a call.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest
from session_helpers import BOARDS, port_of

from belay import DeviceSessionManager
from belay.device import Device
from belay.device_files import device_file
from belay.errors import DeviceExecError
from belay.session.board import Board
from belay.session.reaping import reap_board

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module", params=BOARDS)
async def device(request: pytest.FixtureRequest) -> AsyncIterator[Device]:
    """A board with the agent (and, where there are threads, its reaper) loaded."""
    async with await Device.open(request.param) as opened:
        await Board(opened).ensure_agent()
        yield opened


def in_session(token: str, code: str) -> str:
    """Agent code that runs ``code`` in the session known by ``token``."""
    return f"_ba.x({token!r}, {code!r})"


async def stats(device: Device) -> dict[str, object]:
    result = await device.eval_code(device_file("agent_stats.py"))
    assert isinstance(result, dict)
    return result


async def session_ids(device: Device) -> list[str]:
    ids = await device.eval_code("print(repr(sorted([s.sid for s in _ba.S.values()])))")
    assert isinstance(ids, list)
    return ids


async def test_a_caller_without_the_token_is_refused_and_touches_nothing(device: Device) -> None:
    await device.exec("_ba.begin('secret-a', 'a', 30000)")
    await device.exec("_ba.x('secret-a', 'value = 41')")
    for attempt in ("_ba.x('a', 'value = 0')", "_ba.end('a')", "_ba.e('guess', 'value')"):
        with pytest.raises(DeviceExecError) as refused:
            await device.exec(attempt)
        assert refused.value.remote_type == "KeyError"
    assert await device.eval_code("_ba.e('secret-a', 'value + 1')") == 42
    assert "a" in await session_ids(device)
    assert await device.eval_code("_ba.end('secret-a')") == []


async def test_the_next_begin_reaps_a_session_whose_lease_ran_out(device: Device) -> None:
    await device.exec("_ba.begin('t-old', 'old', 50)\n" + in_session("t-old", "junk = bytearray(512)"))
    await anyio.sleep(0.2)
    # What the reaper thread (if any) or this begin reaped waits for the next host to collect.
    reaped = await device.eval_code("_ba.begin('t-new', 'new', 30000)")
    assert [entry[0] for entry in reaped] == ["old"]
    assert await session_ids(device) == ["new"]
    assert await device.eval_code("_ba.end('t-new')") == []


@pytest.mark.parametrize("device", ["unix"], indirect=True)
async def test_with_threads_a_long_call_is_never_reaped_and_renews_live_leases(device: Device) -> None:
    await device.exec("_ba.begin('t-long', 'long', 400)\n_ba.begin('t-idle', 'idle', 400)")
    await device.exec(in_session("t-long", "import belay_agent\nbelay_agent.sleep_ms(1200)"))  # 3 leases
    assert await device.eval_code("_ba.begin('t-next', 'next', 30000)") == []
    assert await session_ids(device) == ["idle", "long", "next"]
    for token in ("t-long", "t-idle", "t-next"):
        assert await device.eval_code(f"_ba.end({token!r})") == []


@pytest.mark.parametrize("device", ["unix"], indirect=True)
async def test_the_reaper_thread_ends_a_silent_session_and_its_thread(device: Device) -> None:
    spin = "def spin():\n import belay_agent\n while belay_agent.running():\n  belay_agent.sleep_ms(5)"
    await device.exec(
        "_ba.begin('t-quiet', 'quiet', 300)\n"
        + in_session("t-quiet", spin)
        + "\n_bat.thread('t-quiet', 'spin-1', 'spin', ())"
    )
    with anyio.fail_after(10):
        while "quiet" in await session_ids(device):  # noqa: ASYNC110 - polling the board is the test
            await anyio.sleep(0.1)
    reaped = await reap_board(device)
    assert [(r.session_id, r.problems) for r in reaped] == [("quiet", ())]
    assert (await stats(device))["zombies"] == {}


@pytest.mark.parametrize("device", ["unix"], indirect=True)
async def test_a_thread_that_ignores_the_stop_is_reported_and_kept_as_a_zombie(device: Device) -> None:
    # Only locals: a thread that reads its session's globals fails once end() clears them.
    stubborn = "def stubborn(go):\n import belay_agent\n while go[0]:\n  belay_agent.sleep_ms(5)"
    await device.exec(
        "_ba.begin('t-z', 'z', 30000)\n"
        + in_session("t-z", stubborn)
        + "\n_g = [1]\n_bat.thread('t-z', 'stubborn-1', 'stubborn', (_g,))"
    )
    assert await device.eval_code("_ba.end('t-z', 50)") == ["thread stubborn-1 did not stop"]
    assert (await stats(device))["zombies"] == {"z/stubborn-1": ["running", None]}
    await device.exec("_g[0] = 0\ndel _g")
    with anyio.fail_after(5):
        while (await stats(device))["zombies"]:  # noqa: ASYNC110 - polling the board is the test
            await anyio.sleep(0.05)


async def test_a_host_blocked_by_a_long_call_keeps_its_sessions(manager: DeviceSessionManager) -> None:
    """Renewals cannot pass while a call holds the line: the sessions outlive it on every board."""
    port = port_of(manager)
    async with manager.session(port, lease=0.4) as busy, manager.session(port, lease=0.4) as idle:
        await idle.exec("kept = 7")
        await busy.exec("import belay_agent\nbelay_agent.sleep_ms(1500)")  # several leases long
        async with manager.session(port) as third:  # begin reaps what ran out: not these two
            assert await third.eval("1") == 1
        assert await idle.eval("kept") == 7
        assert await busy.eval("1 + 1") == 2
