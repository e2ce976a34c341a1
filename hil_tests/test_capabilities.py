"""What a board lacks is refused with DeviceCapabilityError, and ``belay_requires`` skips on it."""

from __future__ import annotations

import pytest

from belay import DeviceCapabilityError, DeviceInfo, DeviceSession

pytestmark = pytest.mark.anyio


def test_the_board_says_what_it_is(belay_device_info: DeviceInfo) -> None:
    assert belay_device_info.implementation == "micropython"
    assert belay_device_info.version >= (1, 9)
    assert belay_device_info.platform


async def test_a_board_without_threads_refuses_threads_and_timers(belay_session: DeviceSession) -> None:
    if belay_session.capabilities.threads:
        pytest.skip("the board has threads: see test_threads.py and test_timers.py")

    @belay_session.task
    def idle():  # type: ignore[no-untyped-def]
        pass

    with pytest.raises(DeviceCapabilityError):
        await belay_session.thread(idle.function)()
    if not belay_session.capabilities.timer:
        with pytest.raises(DeviceCapabilityError):
            await belay_session.timer(idle, period_ms=10)
    assert belay_session.resources.active_threads() == []


@pytest.mark.belay_requires("threads", "timer")
async def test_requires_runs_only_where_the_board_has_it(belay_session: DeviceSession) -> None:
    assert belay_session.capabilities.threads
