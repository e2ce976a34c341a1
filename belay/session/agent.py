"""Getting the device agent onto a board, once per version, and recognising it afterwards.

The agent's files (``device/belay_agent*.py``) are written to the board's filesystem and
imported; its ``VERSION`` (a hash of the files) tells a current agent from a stale one. A
board that cannot compile it in a fragmented heap (the micro:bit) is soft-reset first.
Parts a board cannot use (threads and timers without ``_thread``) are not sent to it.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from functools import cache

from belay.device import Device
from belay.device_files import device_file, minify
from belay.errors import DeviceExecError, SessionError

logger = logging.getLogger(__name__)

CORE = "belay_agent.py"
THREADS = "belay_agent_threads.py"
WRITE_CHUNK = 256


@cache
def agent_version() -> str:
    digest = hashlib.sha256(device_file(CORE) + device_file(THREADS))
    return digest.hexdigest()[:12]


@cache
def agent_files(threads: bool) -> dict[str, bytes]:
    """What to write to a board: the core (with its version), and the threads part if it can run it."""
    files = {CORE: minify(device_file(CORE)) + b"VERSION = '%s'\n" % agent_version().encode()}
    if threads:
        files[THREADS] = minify(device_file(THREADS))
    return files


@dataclass
class AgentInstall:
    """What installing the agent cost: bytes written, whether a reset was needed."""

    version: str
    bytes_sent: int
    reset: bool


async def ensure_agent(device: Device) -> AgentInstall:
    """Make ``belay_agent`` importable and imported as ``_ba`` on the board."""
    wanted = agent_version()
    found = await loaded_version(device)
    if found == wanted:
        return AgentInstall(wanted, 0, reset=False)
    sent = 0
    if found != "memory":
        sent = await _write_agent(device)
    reset = found not in (None, "memory") or not device.capabilities.has_module_registry
    if not reset:
        found = await loaded_version(device)
    if reset or found == "memory":
        await device.soft_reset()
        reset = True
        found = await loaded_version(device)
    if found != wanted:
        raise SessionError(f"the belay agent on {device.port} did not load (found {found!r})")
    logger.info("agent %s installed on %s (%d bytes)", wanted, device.port, sent)
    return AgentInstall(wanted, sent, reset)


async def loaded_version(device: Device) -> str | None:
    """The imported agent's version, ``None`` if absent, ``"memory"`` if it did not fit.

    The import runs as a bare statement: on the micro:bit even a ``try`` around it can
    tip the compiler's peak heap use over the edge.
    """
    try:
        await device.exec("import belay_agent as _ba")
    except DeviceExecError as error:
        if error.remote_type == "MemoryError":
            return "memory"
        if error.remote_type == "ImportError":
            return None
        raise
    return str(await device.eval("_ba.VERSION"))


async def _write_agent(device: Device) -> int:
    sent = 0
    for name, body in agent_files(device.capabilities.threads).items():
        await device.exec(f"_f=open({name!r},'wb')")
        try:
            for start in range(0, len(body), WRITE_CHUNK):
                chunk = body[start : start + WRITE_CHUNK]
                await device.exec(f"_f.write({chunk!r})")
                sent += len(chunk)
        finally:
            await device.exec("_f.close()\ndel _f")
    return sent


__all__ = ["AgentInstall", "agent_files", "agent_version", "ensure_agent", "loaded_version", "minify"]
