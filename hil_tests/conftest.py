"""Fixtures of the hardware-in-the-loop suite beside the belay plugin's own.

Run it on any board: ``pytest hil_tests --belay-port /dev/ttyACM0`` (or ``unix``, ``microbit``).
"""

from __future__ import annotations

import pytest

from belay import DeviceSessionManager
from belay.device import Device


@pytest.fixture
def observer(belay_manager: DeviceSessionManager, belay_port: str, belay_device_info: object) -> Device:
    """The board's own connection, outside every session: to see what sessions leave behind."""
    board = belay_manager.board(belay_port)
    assert board is not None
    return board.device
