"""belay: MicroPython device sessions that never leave a board in a mess."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from belay.errors import (
    BelayError,
    BoardFileError,
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
    RemoteFileExistsError,
    RemoteFileNotFoundError,
    RemoteFolderNotFoundError,
    ResourceCleanupError,
    SessionError,
    SessionLimitError,
    TransportError,
)

if TYPE_CHECKING:
    from belay.blocking import BlockingSession, connect
    from belay.board_info import Capabilities, DeviceInfo
    from belay.device import Device
    from belay.options import SessionOptions
    from belay.session.functions import Timer
    from belay.session.manager import DeviceSessionManager
    from belay.session.records import ResourceUsageStats, SessionStats
    from belay.session.session import DeviceSession
    from belay.session.state import ManagerState, SessionState, next_state
    from belay.session.tracker import CallbackResource, ResourceTracker, SessionResource

    __version__: str

# Imported on first use, so that ``import belay.cli`` (a command's start-up) pays only for
# what the command needs.
_LAZY = {
    "BlockingSession": "belay.blocking",
    "connect": "belay.blocking",
    "Capabilities": "belay.board_info",
    "DeviceInfo": "belay.board_info",
    "Device": "belay.device",
    "SessionOptions": "belay.options",
    "DeviceSessionManager": "belay.session.manager",
    "ResourceUsageStats": "belay.session.records",
    "SessionStats": "belay.session.records",
    "DeviceSession": "belay.session.session",
    "Timer": "belay.session.functions",
    "ManagerState": "belay.session.state",
    "SessionState": "belay.session.state",
    "next_state": "belay.session.state",
    "CallbackResource": "belay.session.tracker",
    "ResourceTracker": "belay.session.tracker",
    "SessionResource": "belay.session.tracker",
}


def _version() -> str:
    """The installed distribution's version: read from its ``METADATA`` on ``sys.path``, as
    :mod:`importlib.metadata` finds it (whose import ``belay --version`` need not pay, ~20 ms),
    else from :mod:`importlib.metadata`."""
    import glob
    import os
    import sys

    for folder in sys.path:
        for metadata in glob.glob(os.path.join(folder or ".", "belay_sdk-*.dist-info", "METADATA")):
            with open(metadata, encoding="utf-8") as handle:
                found = next((line[8:].strip() for line in handle if line.startswith("Version:")), None)
            if found:
                return found
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("belay-sdk")
    except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0+unknown"


def __getattr__(name: str) -> Any:
    """The public names not imported yet (PEP 562); raises :class:`AttributeError` for others."""
    import importlib

    if name == "__version__":
        value: Any = _version()
    elif name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    else:
        raise AttributeError(f"module 'belay' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


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
    "BoardFileError",
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
    "RemoteFileExistsError",
    "RemoteFileNotFoundError",
    "RemoteFolderNotFoundError",
    "ResourceCleanupError",
    "SessionError",
    "SessionLimitError",
    "TransportError",
    "__version__",
]
