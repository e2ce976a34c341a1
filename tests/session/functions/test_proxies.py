"""Proxies of board objects that are not literals (issue 12, item 2), on both boards: access,
calls, iteration, setting, and release by the host, by dropping the last reference and by the
session's end, checked against the agent's own records."""

from __future__ import annotations

import gc

import pytest
from session_helpers import port_of

from belay import DeviceExecError, DeviceSession, DeviceSessionManager, DeviceValueError, SessionError
from belay.session.functions.proxies import Proxy

pytestmark = pytest.mark.anyio
BOTH_APIS = True  # the session tests run through the blocking API too (tests/blocking_adapter.py)

SENSOR = """
class Sensor:
    def __init__(self, scale):
        self.scale = scale
        self.log = []
    def read(self, raw, offset=0):
        self.log.append(raw)
        return raw * self.scale + offset
    def history(self):
        return self.log
"""


async def held(session: DeviceSession) -> int:
    """How many proxies the board holds for ``session``, asked of the agent's records (on
    roomy boards also as ``belay stats`` reads them: its code does not fit the micro:bit's
    heap beside a class and the proxy part)."""
    extras = f"__import__('belay_agent').x({session.token!r})"
    count = int(await session.eval(f"len({extras}.get('p', {{}}))"))
    if session.capabilities.mem_free + session.capabilities.mem_alloc > 64 * 1024:
        assert (await session.board_stats())["proxies"] == count
    return count


async def test_a_custom_object_is_used_through_its_proxy(manager: DeviceSessionManager) -> None:
    async with manager.session(port_of(manager), on_output=None) as session:
        await session.exec(SENSOR)
        sensor = await session.proxy("Sensor(3)")
        assert isinstance(sensor, Proxy)
        assert await sensor.scale == 3
        assert await sensor.read(2) == 6
        assert await sensor.read(5, offset=1) == 16
        assert await sensor.history() == [2, 5]
        assert await sensor.log[1] == 5  # an item of an attribute: one round trip when awaited
        await sensor.set("scale", 10)
        assert await sensor.read(1) == 10
        assert await held(session) == 1
        assert [resource.resource_type for resource in session.resources.active_resources()] == ["proxy"]
        await sensor.release()
        assert await held(session) == 0
        assert session.resources.active_resources() == []


async def test_dicts_lists_and_nested_objects(manager: DeviceSessionManager) -> None:
    async with manager.session(port_of(manager), on_output=None) as session:
        await session.exec(SENSOR + "box = {'a': [1, 2, 3], 'sensor': Sensor(2)}")
        listed = await session.proxy("box['a']")
        assert isinstance(listed, Proxy)  # always a proxy: the list stays on the board
        assert await listed.snapshot() == [1, 2, 3]
        box = await session.proxy("box")
        assert isinstance(box, Proxy)
        assert await box.len() == 2
        assert await box.contains("a") and not await box.contains("zzz")
        assert await box["a"][2] == 3
        inner = await box["sensor"]
        assert isinstance(inner, Proxy)
        assert await inner.read(4) == 8
        await box.set("b", 7)
        assert await session.eval("box['b']") == 7
        assert sorted([key async for key in box]) == ["a", "b", "sensor"]
        with pytest.raises(DeviceExecError) as caught:
            await box["missing"]
        assert caught.value.remote_type == "KeyError"


async def test_a_mutable_literal_stays_on_the_board_and_changes_reach_it(
    manager: DeviceSessionManager,
) -> None:
    async with manager.session(port_of(manager), on_output=None) as session:
        await session.exec("config = {'a': [1, 2, 3], 'name': 'x', 'pair': (1, 'b'), 'n': None}")
        config = await session.proxy("config")
        assert isinstance(config, Proxy)
        await config["a"].append(4)  # the board's own list
        assert await session.eval("config['a']") == [1, 2, 3, 4]
        inner = await config["a"]
        assert isinstance(inner, Proxy)  # a mutable item is kept, not copied
        await inner.append(5)
        assert await session.eval("config['a']") == [1, 2, 3, 4, 5]
        assert await config["name"] == "x"  # immutable items come back as values
        assert await config["pair"] == (1, "b")
        assert await config["n"] is None
        await config.set("new", True)
        assert await session.eval("config['new']") is True
        assert await config["new"] is True  # a bool is immutable (no int on MicroPython)
        copied = {"a": [1, 2, 3, 4, 5], "name": "x", "pair": (1, "b"), "n": None, "new": True}
        assert await config.snapshot() == copied
        number = await session.proxy("6 * 7")
        assert isinstance(number, Proxy) and await number == 42 and await number.snapshot() == 42


async def test_an_object_that_is_no_literal_cannot_be_copied(manager: DeviceSessionManager) -> None:
    async with manager.session(port_of(manager), on_output=None) as session:
        await session.exec(SENSOR)
        sensor = await session.proxy("Sensor(2)")
        with pytest.raises(DeviceValueError, match=r"a Sensor is not a literal"):
            await sensor.snapshot()
        assert await sensor.log.snapshot() == []
        assert await sensor.read(1) == 2  # still usable


async def test_a_file_object_on_the_board(manager: DeviceSessionManager) -> None:
    async with manager.session(port_of(manager), on_output=None) as session:
        await session.exec("with open('proxied.txt', 'w') as f:\n f.write('line one\\nline two\\n')")
        handle = await session.proxy("open('proxied.txt')")
        assert isinstance(handle, Proxy)
        assert await handle.readline() == "line one\n"
        assert await handle.read() == "line two\n"
        await handle.close()
        await session.exec("import os\nos.remove('proxied.txt')")


@pytest.mark.parametrize(
    "board",
    [
        "unix",
        pytest.param("microbit", marks=[pytest.mark.microbit]),  # a 1.5 KB block is left after a put
    ],
)
async def test_a_proxy_after_a_put(board: str) -> None:
    async with DeviceSessionManager() as manager, manager.session(board, on_output=None) as session:
        await session.fs.put(b"line one\n", "proxied.txt", temporary=True)
        handle = await session.proxy("open('proxied.txt')")
        assert await handle.readline() == "line one\n"
        await handle.close()


async def test_a_task_returns_a_proxy_explicitly(manager: DeviceSessionManager) -> None:
    async with manager.session(port_of(manager), on_output=None) as session:
        await session.exec(SENSOR)

        @session.task
        def make(scale):  # type: ignore[no-untyped-def]
            import belay_agent

            return [belay_agent.proxy(Sensor(scale)), scale]  # type: ignore[name-defined]  # noqa: F821

        made, scale = await make(7)
        assert isinstance(made, Proxy) and scale == 7
        assert await made.read(1) == 7
        assert await held(session) == 1


async def test_dropping_the_last_reference_releases_it_and_the_session_end_releases_the_rest(
    manager: DeviceSessionManager,
) -> None:
    async with manager.session(port_of(manager), on_output=None) as session:
        await session.exec(SENSOR)
        first = await session.proxy("Sensor(1)")
        kept = await session.proxy("Sensor(2)")
        path = kept.read  # a path proxy keeps its root alive
        assert await held(session) == 2
        del first, kept
        gc.collect()
        assert await held(session) == 1  # the drop went ahead of this call
        assert await path(3) == 6
        stale = await session.proxy("Sensor(4)")
    with pytest.raises(SessionError, match=r"after session \w+ ended"):
        await stale.read(1)
    async with manager.session(port_of(manager), on_output=None) as after:
        assert await held(after) == 0
        assert await after.eval("len(__import__('belay_agent').S)") == 1  # only this one


async def test_a_proxy_of_a_pin_on_the_microbit() -> None:
    from belay import DeviceSessionManager as Manager

    try:
        async with Manager() as manager, manager.session("microbit", on_output=None) as session:
            await session.exec("import microbit")
            pin = await session.proxy("microbit.pin0")
            assert isinstance(pin, Proxy)
            await pin.write_digital(1)
            assert await pin.read_digital() in (0, 1)
            await pin.release()
    except Exception as error:  # pragma: no cover - reported as a skip only without QEMU
        if "qemu" in str(error).lower() or "firmware" in str(error).lower():
            pytest.skip(str(error))
        raise


test_a_proxy_of_a_pin_on_the_microbit = pytest.mark.microbit(test_a_proxy_of_a_pin_on_the_microbit)
