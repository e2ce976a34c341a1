"""Modules a session first imports are its resources (issue 26.11): counted, listed by
``belay stats``, removed from ``sys.modules`` when it ends (the next import reads the file as it
is then), kept only when asked. The micro:bit has no ``sys.modules``: nothing to track there."""

from __future__ import annotations

import pytest
from session_helpers import agent_stats, observer

from belay import DeviceSession, DeviceSessionManager

pytestmark = pytest.mark.anyio

LOADED = "print(repr('belay_probe_mod' in __import__('sys').modules))"


async def write_module(session: DeviceSession, value: int) -> None:
    await session.fs.put(f"VALUE = {value}\n".encode(), "belay_probe_mod.py")


async def test_a_module_a_session_imported_goes_with_it_and_is_read_again() -> None:
    async with DeviceSessionManager() as manager:
        async with manager.session("unix", on_output=None) as session:
            await write_module(session, 1)
            await session.exec("import belay_probe_mod")
            assert await session.eval("belay_probe_mod.VALUE") == 1
            held = session.resources.active_resources()
            assert [r.resource_id for r in held if r.resource_type == "module"] == ["module-belay_probe_mod"]
            assert session.resources.stats().by_type.get("module") == 1
            assert (await session.board_stats())["modules"] == ["belay_probe_mod"]
            await write_module(session, 2)
        device = observer_of(manager)
        assert await device.eval_code(LOADED) is False  # removed with the session
        async with manager.session("unix", on_output=None) as session:
            await session.exec("import belay_probe_mod")
            assert await session.eval("belay_probe_mod.VALUE") == 2  # the file as it is now
            await session.fs.rm("belay_probe_mod.py")
        assert (await agent_stats(device))["sessions"] == {}


async def test_a_module_a_task_imported_is_counted_once_the_board_is_asked() -> None:
    async with DeviceSessionManager() as manager:
        async with manager.session("unix", on_output=None) as session:
            await write_module(session, 5)

            @session.task
            def load():  # type: ignore[no-untyped-def]
                import belay_probe_mod

                return belay_probe_mod.VALUE

            assert await load() == 5
            assert (await session.board_stats())["modules"] == ["belay_probe_mod"]
            held = session.resources.active_resources()
            assert [r.resource_id for r in held if r.resource_type == "module"] == ["module-belay_probe_mod"]
            await session.fs.rm("belay_probe_mod.py")
        assert await observer_of(manager).eval_code(LOADED) is False


async def test_keep_modules_leaves_them_loaded() -> None:
    async with DeviceSessionManager() as manager:
        async with manager.session("unix", on_output=None, keep_modules=True) as session:
            await write_module(session, 3)
            await session.exec("import belay_probe_mod")
            await session.fs.rm("belay_probe_mod.py")
        device = observer_of(manager)
        assert await device.eval_code(LOADED) is True
        await device.exec("__import__('sys').modules.pop('belay_probe_mod')")


async def test_a_module_a_session_found_loaded_is_not_its_own() -> None:
    async with DeviceSessionManager() as manager:
        async with manager.session("unix", on_output=None) as session:
            await write_module(session, 4)
            device = observer_of(manager)
            await device.exec("import belay_probe_mod")  # at the REPL, outside every session
            await session.exec("import belay_probe_mod\nimport belay_probe_mod")
            assert [r for r in session.resources.active_resources() if r.resource_type == "module"] == []
            await session.fs.rm("belay_probe_mod.py")
        assert await device.eval_code(LOADED) is True
        await device.exec("__import__('sys').modules.pop('belay_probe_mod')\ndel belay_probe_mod")


@pytest.mark.microbit
async def test_on_the_microbit_imports_work_and_nothing_is_tracked() -> None:
    async with DeviceSessionManager() as manager, manager.session("microbit", on_output=None) as session:
        assert await session.exec("import gc\nprint('ok')") == "ok\n"
        assert [r for r in session.resources.active_resources() if r.resource_type == "module"] == []


def observer_of(manager: DeviceSessionManager):  # type: ignore[no-untyped-def]
    manager.test_port = "unix"  # type: ignore[attr-defined]
    return observer(manager)
