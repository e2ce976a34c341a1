"""Leases and tokens in the agent itself, driven through a raw device on both boards.

A session is known to the agent by a token; a caller without it is refused and nothing of the
session is touched. A session whose lease runs out is reaped: by the next ``begin`` on every
board, by the reaper thread on boards with threads, never in the middle of a call. A token
that is gone is refused saying why (``belay:<why>``), never naming the token. Every agent call
is built with :mod:`belay.agent.calls`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
import pytest
from session_helpers import BOARDS, agent_stats, answer, eval_call, exec_call, live_session_ids, port_of

from belay import DeviceSessionManager
from belay.agent import calls
from belay.device import Device
from belay.errors import DeviceExecError
from belay.session.board import Board
from belay.session.reaping import reap_board

pytestmark = pytest.mark.anyio

SPIN = "def spin():\n import belay_agent\n while belay_agent.running():\n  belay_agent.sleep_ms(5)"
"""A thread body that stops when its session ends."""


@pytest.fixture(scope="module", params=BOARDS)
async def device(request: pytest.FixtureRequest) -> AsyncIterator[Device]:
    """A board with the agent (and, where there are threads, its reaper) loaded."""
    async with await Device.open(request.param) as opened:
        await Board(opened).ensure_agent()
        yield opened


def token_of(name: str) -> str:
    """A token for session ``name``: longer than ten characters, as the host's are."""
    return f"token-of-{name}-0123456789"


async def begin(device: Device, name: str, lease_ms: int) -> list[object]:
    """Open session ``name`` (its id) with the token :func:`token_of` gives; what was reaped."""
    reaped = await answer(device, calls.begin(token_of(name), name, lease_ms, []))
    assert isinstance(reaped, list)
    return reaped


async def end(device: Device, name: str, wait_ms: int = 200) -> list[object]:
    """End session ``name``: what could not be removed."""
    problems = await answer(device, calls.end(token_of(name), wait_ms))
    assert isinstance(problems, list)
    return problems


async def in_session(device: Device, name: str, code: str) -> None:
    """Run ``code`` in session ``name``."""
    await device.exec(exec_call(device, token_of(name), code))


async def test_a_caller_without_the_token_is_refused_and_touches_nothing(device: Device) -> None:
    await device.exec(calls.begin("secret-a-0123456", "a", 30000, []))
    await device.exec(exec_call(device, "secret-a-0123456", "value = 41"))
    attempts = (
        exec_call(device, "a", "value = 0"),
        calls.end("a", 200),
        eval_call(device, "guess", "value"),
    )
    for attempt in attempts:
        with pytest.raises(DeviceExecError) as refused:
            await device.exec(attempt)
        assert refused.value.remote_type == "KeyError"
        assert refused.value.remote_message == "belay:unknown"
    assert await answer(device, eval_call(device, "secret-a-0123456", "value + 1")) == 42
    assert "a" in await live_session_ids(device)
    assert await answer(device, calls.end("secret-a-0123456", 200)) == []


async def test_the_next_begin_reaps_a_session_whose_lease_ran_out(device: Device) -> None:
    await device.exec(
        calls.begin(token_of("old"), "old", 50, [])
        + "\n"
        + exec_call(device, token_of("old"), "junk = bytearray(512)")
    )
    await anyio.sleep(0.2)
    # What the reaper thread (if any) or this begin reaped waits for the next host to collect.
    reaped = await begin(device, "new", 30000)
    assert [entry[0] for entry in reaped] == ["old"]  # type: ignore[index]
    assert await live_session_ids(device) == ["new"]
    assert await end(device, "new") == []


@pytest.mark.parametrize("device", ["unix"], indirect=True)
async def test_with_threads_a_long_call_is_never_reaped_and_renews_live_leases(device: Device) -> None:
    await begin(device, "long", 400)
    await begin(device, "idle", 400)
    await in_session(device, "long", "import belay_agent\nbelay_agent.sleep_ms(1200)")  # 3 leases
    assert await begin(device, "next", 30000) == []
    assert await live_session_ids(device) == ["idle", "long", "next"]
    for name in ("long", "idle", "next"):
        assert await end(device, name) == []


@pytest.mark.parametrize("device", ["unix"], indirect=True)
async def test_the_reaper_thread_ends_a_silent_session_and_its_thread(device: Device) -> None:
    token = token_of("quiet")
    await device.exec(
        calls.begin(token, "quiet", 300, [])
        + "\n"
        + exec_call(device, token, SPIN)
        + "\n"
        + calls.start_thread(token, "spin-1", "spin", "()")
    )
    with anyio.fail_after(10):
        while "quiet" in await live_session_ids(device):  # noqa: ASYNC110 - polling the board is the test
            await anyio.sleep(0.1)
        # The reaper takes the session out first, then waits for its thread to stop, then files
        # its report (with what stopping found): a host asking in between hears it next time.
        while not (reaped := await reap_board(device)):  # noqa: ASYNC110 - polling the board is the test
            await anyio.sleep(0.05)
    assert [(r.session_id, r.problems) for r in reaped] == [("quiet", ())]
    assert (await agent_stats(device))["zombies"] == {}


@pytest.mark.parametrize("device", ["unix"], indirect=True)
async def test_a_thread_that_ignores_the_stop_is_reported_and_kept_as_a_zombie(device: Device) -> None:
    # Only locals: a thread that reads its session's globals fails once end() clears them.
    stubborn = "def stubborn(go):\n import belay_agent\n while go[0]:\n  belay_agent.sleep_ms(5)"
    token = token_of("z")
    await device.exec(
        calls.begin(token, "z", 30000, [])
        + "\n"
        + exec_call(device, token, stubborn)
        + "\n_g = [1]\n"
        + calls.start_thread(token, "stubborn-1", "stubborn", "(_g,)")
    )
    assert await end(device, "z", 50) == ["thread stubborn-1 did not stop"]
    assert (await agent_stats(device))["zombies"] == {"z/stubborn-1": ["running", None]}
    await device.exec("_g[0] = 0\ndel _g")
    with anyio.fail_after(5):
        while (await agent_stats(device))["zombies"]:  # noqa: ASYNC110 - polling the board is the test
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


# --- however a thread ends, it is recorded as ended -----------------------------------------

ENDINGS = {
    "sys-exit": ("def body():\n import sys\n sys.exit()", ["finished", None]),
    "keyboard-interrupt": ("def body():\n raise KeyboardInterrupt", ["crashed", "KeyboardInterrupt: "]),
    "exception": ("def body():\n raise ValueError('boom')", ["crashed", "ValueError: boom"]),
}


@pytest.mark.parametrize("device", ["unix"], indirect=True)
@pytest.mark.parametrize("ending", list(ENDINGS))
async def test_a_thread_that_ends_however_is_recorded_ended_and_end_reports_nothing(
    device: Device, ending: str
) -> None:
    body, record = ENDINGS[ending]
    token = token_of("ends")
    await device.exec(
        calls.begin(token, "ends", 30000, [])
        + "\n"
        + exec_call(device, token, body)
        + "\n"
        + calls.start_thread(token, "body-1", "body", "()")
    )
    with anyio.fail_after(5):
        while (await agent_stats(device))["sessions"]["ends"]["threads"]["body-1"][0] == "running":  # noqa: ASYNC110
            await anyio.sleep(0.05)
    stats = await agent_stats(device)
    assert stats["sessions"]["ends"]["threads"] == {"body-1": record}
    assert stats["zombies"] == {}
    if record[0] == "crashed":
        assert f"thread body-1 crashed: {record[1]}" in await answer(device, calls.output(token))
    assert await end(device, "ends") == []
    assert (await agent_stats(device))["zombies"] == {}


# --- the reaper survives what the line does ---------------------------------------------------


@pytest.mark.parametrize("device", ["unix"], indirect=True)
@pytest.mark.parametrize("in_a_session", [False, True], ids=["bare-call", "session-call"])
async def test_the_reaper_survives_interrupted_calls_and_still_reaps_by_itself(
    device: Device, in_a_session: bool
) -> None:
    busy = token_of("busy")
    # A session's call keeps the reaper off while it runs: an interrupt must not leave it off.
    spin_forever = exec_call(device, busy, "while True: pass") if in_a_session else "while True: pass"
    await device.exec(
        calls.begin(busy, "busy", 30000, [])
        + "\n"
        + exec_call(device, busy, SPIN)
        + "\n"
        + calls.start_thread(busy, "spin-1", "spin", "()")
    )
    for _ in range(20):
        with anyio.move_on_after(0.2):
            await device.exec(spin_forever)
    assert (await agent_stats(device))["sessions"]["busy"]["threads"] == {"spin-1": ["running", None]}
    await begin(device, "short", 300)
    await anyio.sleep(0.3 + 1.0)  # the lease and a second more, with no host call at all
    stats = await agent_stats(device)
    assert list(stats["sessions"]) == ["busy"]
    assert [entry[0] for entry in stats["reaped"]] == ["short"]
    assert stats["reaper"] is True
    assert [r.session_id for r in await reap_board(device)] == ["short"]
    assert await end(device, "busy") == []


# --- a token that is gone says why, and never names itself -----------------------------------


async def gone_by_lease(device: Device, name: str) -> None:
    await begin(device, name, 100)
    await anyio.sleep(0.3)
    await answer(device, calls.reap(False))  # where the reaper thread has not yet reaped it


async def gone_by_reap_all(device: Device, name: str) -> None:
    await begin(device, name, 30000)
    assert [entry[0] for entry in await answer(device, calls.reap(True))] == [name]


async def gone_by_orphaning(device: Device, name: str) -> None:
    await begin(device, name, 30000)
    assert [entry[0] for entry in await answer(device, calls.end_orphans([token_of(name)]))] == [name]


async def never_begun(device: Device, name: str) -> None:
    pass


GONE = {"lease": gone_by_lease, "host": gone_by_reap_all, "lost": gone_by_orphaning, "unknown": never_begun}


@pytest.mark.parametrize("why", list(GONE))
async def test_a_gone_session_is_refused_saying_why_without_its_token(device: Device, why: str) -> None:
    name = f"gone-{why}"
    await GONE[why](device, name)
    token = token_of(name)
    attempts = [
        exec_call(device, token, "1"),
        eval_call(device, token, "1"),
        calls.call_task(token, "f", "", device.capabilities.threads),
    ]
    attempts.append(calls.end(token, 200))
    if device.capabilities.threads:  # only boards with threads have background output to read
        attempts.append(calls.output(token))
    for attempt in attempts:
        with pytest.raises(DeviceExecError) as refused:
            await device.exec(attempt)
        error = refused.value
        assert (error.remote_type, error.remote_message) == ("KeyError", f"belay:{why}")
        for text in (error.remote_message, error.remote_traceback, str(error)):
            assert token not in text
    await answer(device, calls.reap(False))  # collect what was reaped, for the next test
    assert name not in await live_session_ids(device)
