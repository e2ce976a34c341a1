"""Helpers the session tests share: the board list, an observer, a byte counter, and the
agent's answers (every agent call is built with :mod:`belay.agent.calls`)."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from belay import DeviceSessionManager
from belay.agent import calls
from belay.agent.answers import value_of
from belay.agent.stats_record import stats_record
from belay.device import Device

NO_QEMU = pytest.mark.skipif(shutil.which("qemu-system-arm") is None, reason="qemu-system-arm missing")
BOARDS = ["unix", pytest.param("microbit", marks=[pytest.mark.microbit, NO_QEMU], id="microbit")]


def port_of(manager: DeviceSessionManager) -> str:
    return str(manager.test_port)  # type: ignore[attr-defined]


def observer(manager: DeviceSessionManager) -> Device:
    """The board's raw connection, outside every session."""
    board = manager.board(port_of(manager))
    assert board is not None
    return board.device


@contextmanager
def writes_to(device: Device) -> Iterator[list[bytes]]:
    """What the host writes to the board inside the block."""
    transport = device.transport
    writes: list[bytes] = []
    original = transport.send

    async def recording(data: bytes) -> None:
        writes.append(data)
        await original(data)

    transport.send = recording  # type: ignore[method-assign]
    try:
        yield writes
    finally:
        transport.send = original  # type: ignore[method-assign]


def exec_call(device: Device, token: str, code: str) -> str:
    """The agent call that runs ``code`` in the session known by ``token`` on ``device``."""
    return calls.exec_code(token, code, device.capabilities.threads)


def eval_call(device: Device, token: str, expression: str) -> str:
    """The agent call that answers ``expression`` in the session known by ``token`` on ``device``."""
    return calls.eval_expression(token, expression, device.capabilities.threads)


async def answer(device: Device, code: str) -> Any:
    """Run agent ``code`` (from :mod:`belay.agent.calls`) and return the value the agent answers."""
    result = await device.call(code)
    return value_of(result.output, truncated=result.output_truncated)


async def agent_stats(device: Device) -> dict[str, Any]:
    """What the agent holds (``belay stats``)."""
    return stats_record(await answer(device, calls.stats()), device.port)


async def live_session_ids(device: Device) -> list[str]:
    """The ids of the sessions the agent holds, sorted."""
    ids = await device.eval_code(calls.live_session_ids())
    assert isinstance(ids, list)
    return sorted(ids)
