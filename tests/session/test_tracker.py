"""ResourceTracker on its own: records, stats, and a cleanup that tries everything."""

from __future__ import annotations

import anyio
import pytest

from belay import CallbackResource, ResourceCleanupError, ResourceTracker

pytestmark = pytest.mark.anyio


async def test_cleanup_tries_every_resource_and_reports_every_failure() -> None:
    tracker = ResourceTracker()
    released: list[str] = []

    def release(name: str, fail: bool):  # type: ignore[no-untyped-def]
        def run() -> None:
            released.append(name)
            if fail:
                raise OSError(f"{name} stuck")

        return run

    for name, fail in [("a", False), ("b", True), ("c", False), ("d", True)]:
        tracker.register(CallbackResource(name, "pin", release(name, fail), estimated_cost=2))
    assert tracker.stats().by_type == {"pin": 4} and tracker.stats().total_cost == 8
    with pytest.raises(ResourceCleanupError) as caught:
        await tracker.cleanup()
    assert released == ["d", "c", "b", "a"]  # newest first, none skipped after a failure
    assert sorted(str(error) for _, error in caught.value.failures) == ["b stuck", "d stuck"]
    assert tracker.active_resources() == []


async def test_cleanup_gives_up_on_a_hung_resource_within_its_timeout() -> None:
    tracker = ResourceTracker()

    async def hang() -> None:
        await anyio.sleep_forever()

    tracker.register(CallbackResource("hung", "socket", hang))
    with anyio.fail_after(5), pytest.raises(ResourceCleanupError, match="hung"):
        await tracker.cleanup(timeout=0.2)


def test_records_mirror_what_the_session_deployed() -> None:
    tracker = ResourceTracker()
    tracker.register_deployed_method("add", "h1")
    assert tracker.is_method_deployed("add", "h1") and not tracker.is_method_deployed("add", "h2")
    tracker.register_background_thread("blink-1")
    tracker.register_timer("timer-1")
    assert tracker.active_threads() == ["blink-1"]
    tracker.update_thread_states({"blink-1": "finished"})
    assert tracker.active_threads() == []
    stats = tracker.stats()
    assert (stats.deployed_methods, stats.timers, stats.background_threads) == (1, 1, 0)
    tracker.unregister_timer("timer-1")
    assert tracker.timers() == []
