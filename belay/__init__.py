"""belay: MicroPython device sessions that never leave a board in a mess."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from belay import errors

# The public surface, by the module each name lives in: the one table that ``__all__`` and the
# lazy imports below are made from (tests/test_public_api.py holds the ``TYPE_CHECKING`` block,
# which type checkers read, to it). Names are imported on first use, so that ``import belay.cli``
# (a command's start-up) pays only for what the command needs.
_PUBLIC: dict[str, tuple[str, ...]] = {
    # sessions
    "belay.blocking": ("BlockingSession", "connect", "open_session"),
    "belay.session.tracker": ("CallbackResource", "ResourceTracker", "SessionResource"),
    "belay.session.session": ("DeviceSession",),
    "belay.session.manager": ("DeviceSessionManager",),
    "belay.session.state": ("ManagerState", "SessionState", "next_state"),
    "belay.session.records": ("ResourceUsageStats", "SessionStats"),
    "belay.session.functions.tasks": ("Timer",),
    # devices and their records
    "belay.board_info": ("Capabilities", "DeviceInfo"),
    "belay.device": ("Device",),
    # options
    "belay.options": ("SessionOptions",),
    # errors (also in belay.errors)
    "belay.errors": tuple(errors.__all__),
}

if TYPE_CHECKING:
    from belay.blocking import BlockingSession as BlockingSession
    from belay.blocking import connect as connect
    from belay.blocking import open_session as open_session
    from belay.board_info import Capabilities as Capabilities
    from belay.board_info import DeviceInfo as DeviceInfo
    from belay.device import Device as Device
    from belay.errors import BelayError as BelayError
    from belay.errors import BoardFileError as BoardFileError
    from belay.errors import BoardOutOfMemoryError as BoardOutOfMemoryError
    from belay.errors import ConnectionLostError as ConnectionLostError
    from belay.errors import DeviceCapabilityError as DeviceCapabilityError
    from belay.errors import DeviceExecError as DeviceExecError
    from belay.errors import DeviceTimeoutError as DeviceTimeoutError
    from belay.errors import DeviceValueError as DeviceValueError
    from belay.errors import NotMicroPythonError as NotMicroPythonError
    from belay.errors import PortBusyError as PortBusyError
    from belay.errors import PortNotFoundError as PortNotFoundError
    from belay.errors import ProtocolError as ProtocolError
    from belay.errors import RemoteFileExistsError as RemoteFileExistsError
    from belay.errors import RemoteFileNotFoundError as RemoteFileNotFoundError
    from belay.errors import RemoteFolderNotFoundError as RemoteFolderNotFoundError
    from belay.errors import ResourceCleanupError as ResourceCleanupError
    from belay.errors import SessionError as SessionError
    from belay.errors import SessionLimitError as SessionLimitError
    from belay.errors import TransportError as TransportError
    from belay.options import SessionOptions as SessionOptions
    from belay.session.functions.tasks import Timer as Timer
    from belay.session.manager import DeviceSessionManager as DeviceSessionManager
    from belay.session.records import ResourceUsageStats as ResourceUsageStats
    from belay.session.records import SessionStats as SessionStats
    from belay.session.session import DeviceSession as DeviceSession
    from belay.session.state import ManagerState as ManagerState
    from belay.session.state import SessionState as SessionState
    from belay.session.state import next_state as next_state
    from belay.session.tracker import CallbackResource as CallbackResource
    from belay.session.tracker import ResourceTracker as ResourceTracker
    from belay.session.tracker import SessionResource as SessionResource

    __version__: str

_LAZY = {name: module for module, names in _PUBLIC.items() for name in names}


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


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext belay`` in IPython or Jupyter: the ``%belay`` magics (see :mod:`belay.notebook`)."""
    from belay.notebook import load_ipython_extension as load

    load(ipython)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [*_LAZY, "__version__"]
