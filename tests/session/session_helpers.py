"""Helpers the session tests share: the board list, an observer, a byte counter."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from belay import DeviceSessionManager
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
