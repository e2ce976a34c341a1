"""The leak check against a real unix board: what a session leaves is found, what it cleans is not."""

from __future__ import annotations

import pytest

from belay import DeviceSessionManager, ResourceCleanupError
from belay.testing.leaks import LeakCheck, compare, open_board, snapshot

pytestmark = pytest.mark.anyio


async def test_a_thread_that_outlives_its_session_is_found_on_the_board() -> None:
    async with DeviceSessionManager() as manager:
        board = await open_board(manager, "unix")
        before = await snapshot(board.device)
        with pytest.raises(ResourceCleanupError, match="thread blink-1 did not stop"):
            async with manager.session("unix") as session:

                @session.thread
                def blink():  # type: ignore[no-untyped-def]
                    import belay_agent  # its sleep is the board's own: no stop point, as `time`'s is

                    while True:
                        belay_agent.sleep_ms(10)

                await blink()
        after = await snapshot(board.device)
        leaks = compare(before, after, margin=512)
        assert f"thread blink-1 still running after its session {session.session_id} ended" in leaks


async def test_a_clean_session_leaves_nothing_and_a_messy_one_is_named() -> None:
    async with DeviceSessionManager() as manager:
        await open_board(manager, "unix")
        clean = LeakCheck(manager, "unix", enabled=True)
        session = await clean.start()
        await session.exec("table = [bytearray(64) for _ in range(8)]")
        await session.fs.temp(b"scratch")
        report = await clean.finish()
        assert report.leaks == [] and report.heap_change is not None and report.heap_change > -512
        messy = LeakCheck(manager, "unix", enabled=True, margin=512)
        session = await messy.start()
        await session.exec("import __main__\n__main__.kept = bytearray(4096)")
        report = await messy.finish()
        assert report.leaks[0] == "global name 'kept' added to the board's REPL namespace"
        assert report.leaks[1].startswith("heap: 4") and "(margin 512 bytes)" in report.leaks[1]
        await board_exec(manager, "del kept")


async def board_exec(manager: DeviceSessionManager, code: str) -> None:
    board = manager.board("unix")
    assert board is not None
    await board.device.exec(code)


async def test_a_session_that_imported_a_module_leaves_no_leak() -> None:
    async with DeviceSessionManager() as manager:
        await open_board(manager, "unix")
        check = LeakCheck(manager, "unix", enabled=True)
        session = await check.start()
        await session.fs.put(b"TABLE = [bytearray(64) for _ in range(8)]\n", "belay_leak_mod.py")
        await session.exec("import belay_leak_mod")
        await session.fs.rm("belay_leak_mod.py")
        report = await check.finish()
        assert report.leaks == []  # the module went with the session, its heap with it
