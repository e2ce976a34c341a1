"""belay: MicroPython device sessions that never leave a board in a mess."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from belay.blocking import BlockingSession, connect
from belay.board_info import Capabilities, DeviceInfo
from belay.device import Device
from belay.errors import (
    BelayError,
    BoardOutOfMemoryError,
    ConnectionLostError,
    DeviceCapabilityError,
    DeviceExecError,
    DeviceTimeoutError,
    DeviceValueError,
    NotMicroPythonError,
    PortBusyError,
    PortNotFoundError,
    ProtocolError,
    RemoteFileNotFoundError,
    ResourceCleanupError,
    SessionError,
    SessionLimitError,
    TransportError,
)
from belay.options import SessionOptions
from belay.session.manager import DeviceSessionManager
from belay.session.records import ResourceUsageStats, SessionStats
from belay.session.session import DeviceSession, Timer
from belay.session.state import ManagerState, SessionState, next_state
from belay.session.tracker import CallbackResource, ResourceTracker, SessionResource

try:
    __version__ = version("belay-sdk")
except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "0+unknown"

__all__ = [
    # sessions
    "BlockingSession",
    "connect",
    "CallbackResource",
    "DeviceSession",
    "DeviceSessionManager",
    "ManagerState",
    "ResourceTracker",
    "ResourceUsageStats",
    "SessionResource",
    "SessionState",
    "SessionStats",
    "Timer",
    "next_state",
    # devices and their records
    "Capabilities",
    "Device",
    "DeviceInfo",
    # options
    "SessionOptions",
    # errors (also in belay.errors)
    "BelayError",
    "BoardOutOfMemoryError",
    "ConnectionLostError",
    "DeviceCapabilityError",
    "DeviceExecError",
    "DeviceTimeoutError",
    "DeviceValueError",
    "NotMicroPythonError",
    "PortBusyError",
    "PortNotFoundError",
    "ProtocolError",
    "RemoteFileNotFoundError",
    "ResourceCleanupError",
    "SessionError",
    "SessionLimitError",
    "TransportError",
    "__version__",
]
