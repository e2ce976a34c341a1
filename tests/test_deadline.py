"""A call's deadline as one value: where it ends, what is left, how it reads in messages."""

from __future__ import annotations

import math

import anyio
import anyio.lowlevel
import pytest

from belay.deadline import Deadline

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.parametrize("seconds", [None, math.inf])
async def test_no_budget_is_unbounded(seconds: float | None) -> None:
    deadline = Deadline.after(seconds)
    assert deadline.unbounded and not deadline.expired
    assert deadline.at == math.inf and deadline.remaining() == math.inf
    assert deadline.budget == math.inf and str(deadline) == "no deadline"
    with deadline.scope():
        await anyio.lowlevel.checkpoint()
    assert Deadline.never().unbounded


async def test_a_budget_ends_at_a_time_on_anyio_s_clock() -> None:
    before = anyio.current_time()
    deadline = Deadline.after(0.25)
    assert before + 0.25 <= deadline.at <= anyio.current_time() + 0.25
    assert 0 < deadline.remaining() <= 0.25 and not deadline.expired
    assert deadline.budget == 0.25 and str(deadline) == "0.25s"


async def test_its_scope_raises_timeout_at_the_deadline_and_it_stays_expired() -> None:
    deadline = Deadline.after(0.05)
    with pytest.raises(TimeoutError), deadline.scope():
        await anyio.sleep(5)
    assert deadline.expired and deadline.remaining() == 0.0


async def test_a_zero_budget_is_expired_at_once() -> None:
    deadline = Deadline.after(0)
    assert deadline.expired and not deadline.unbounded and str(deadline) == "0s"
