"""Getting the device agent onto a board, once per version, and recognising it afterwards.

The agent's files (``device/belay_agent*.py``) are written to the board's filesystem and
imported; its ``VERSION`` (a hash of the files) tells a current agent from a stale one, and a
module of that name that is not the agent (a user's file) from either: both are written
again. A board that cannot compile the agent in a fragmented heap (the micro:bit), or cannot
forget a module it imported, is soft-reset first. Parts a board cannot use (threads and
timers without ``_thread``) are not sent to it.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from functools import cache
from typing import Any

from belay.agent import calls
from belay.agent.answers import as_int, ask
from belay.agent.names import AGENT_MODULES, CORE_MODULE, ON_DEMAND_MODULES, THREADS_MODULE, file_name
from belay.agent.sources import device_file, minify
from belay.device import Device
from belay.errors import BelayError, BoardOutOfMemoryError, DeviceExecError, DeviceValueError, SessionError
from belay.heap import (
    ONE_CHUNK_AGENT_FREE_FROM,
    ROOMY_TRANSFERS_FROM,
    inflate_window_bits,
    roomy_for_transfers,
)
from belay.protocol import codec

logger = logging.getLogger(__name__)

CORE = file_name(CORE_MODULE)
THREADS = file_name(THREADS_MODULE)
ON_DEMAND = {part: file_name(module) for part, module in ON_DEMAND_MODULES.items()}
"""Parts written with the agent and imported only when a session first needs them."""
AGENT_FILES = tuple(file_name(module) for module in AGENT_MODULES)
"""Every file the agent may have on a board."""
WRITE_CHUNK = 256
BIG_WRITE_CHUNK = 8192
"""The chunk of a board with :data:`~belay.heap.ONE_CHUNK_AGENT_FREE_FROM` free: a whole agent file."""
MISSING, FOREIGN, NO_MEMORY = "missing", "foreign", "memory"
"""What :func:`loaded_version` answers instead of a version."""


@cache
def agent_version() -> str:
    digest = hashlib.sha256(b"".join(device_file(name) for name in AGENT_FILES))
    return digest.hexdigest()[:12]


@cache
def agent_files(threads: bool) -> dict[str, bytes]:
    """What to write to a board: the core (with its version), and the threads part if it can run it."""
    files = {CORE: minify(device_file(CORE)) + b"VERSION = '%s'\n" % agent_version().encode()}
    if threads:
        files[THREADS] = minify(device_file(THREADS))
    for name in ON_DEMAND.values():
        files[name] = minify(device_file(name))
    return files


@dataclass
class AgentInstall:
    """What installing the agent cost: bytes written, whether a reset was needed."""

    version: str
    bytes_sent: int
    reset: bool


async def ensure_agent(device: Device) -> AgentInstall:
    """Make ``belay_agent`` importable and imported as ``_ba`` on the board.

    Raises :class:`SessionError` when it does not load even after a soft reset.
    """
    wanted = agent_version()
    found = await loaded_version(device)
    if found == wanted:
        return AgentInstall(wanted, 0, reset=False)
    sent = 0
    if found != NO_MEMORY:
        sent = await _write_agent(device)
    # A stale agent may have sessions and a reaper running: only a reset clears them.
    reset = found not in (MISSING, FOREIGN) or not device.capabilities.has_module_registry
    if found == FOREIGN and not reset:  # forget the user's module of that name, import ours
        await device.exec(calls.forget_agent())
    if not reset:
        found = await loaded_version(device)
    if reset or found != wanted:
        await device.soft_reset()
        reset = True
        found = await loaded_version(device)
    if found != wanted:
        raise SessionError(f"the belay agent on {device.port} did not load (found {found!r})")
    logger.info("agent %s installed on %s (%d bytes)", wanted, device.port, sent)
    return AgentInstall(wanted, sent, reset)


async def loaded_version(device: Device) -> str:
    """The imported agent's version; :data:`MISSING` if there is none, :data:`NO_MEMORY` if
    it did not fit the heap, :data:`FOREIGN` if ``belay_agent`` is not the agent."""
    try:
        await device.exec(calls.import_agent())
    except DeviceExecError as error:
        if error.remote_type == "MemoryError":
            return NO_MEMORY
        if error.remote_type == "ImportError":
            return MISSING
        return FOREIGN  # a file of that name that does not even import
    found = await ask(device, calls.version())
    return found if isinstance(found, str) else FOREIGN


async def _write_agent(device: Device) -> int:
    """Write the agent's files; the bytes written. Compressed in one call where the board
    inflates and has room (a third of the bytes across a slow line), else in chunks."""
    files = agent_files(device.capabilities.threads)
    if roomy_for_transfers(device.capabilities) and await device.eval_code(calls.can_inflate()) is True:
        joined = b"".join(files.values())
        ends = [0]
        for body in files.values():
            ends.append(ends[-1] + len(body))
        payload, packed = codec.maybe_compressed(joined, inflate_window_bits(device.capabilities))
        literal, escapes = codec.raw_literal(payload), codec.escapes_used(payload)
        await device.exec(calls.write_files_packed(literal, escapes, packed, list(files), ends))
        return len(joined)
    return await _write_agent_in_chunks(device)


async def _write_agent_in_chunks(device: Device) -> int:
    sent = 0
    size = BIG_WRITE_CHUNK if device.capabilities.mem_free >= ONE_CHUNK_AGENT_FREE_FROM else WRITE_CHUNK
    for name, body in agent_files(device.capabilities.threads).items():
        await device.exec(calls.write_file_open(name))
        try:
            for start in range(0, len(body), size):
                chunk = body[start : start + size]
                await device.exec(calls.write_file_chunk(chunk))
                sent += len(chunk)
        finally:
            await device.exec(calls.write_file_close())
    return sent


@dataclass
class CleanReport:
    """What ``belay clean`` removed: the sessions it ended, and whether the board was reset
    (boards without ``sys.modules`` keep an imported module in RAM until a reset)."""

    sessions_ended: int
    reset: bool
    zombies: tuple[str, ...] = ()
    """Threads (``"session/thread"``) still running after their sessions ended: a reset stops
    them (done unless ``reset=False``, which leaves them running)."""


async def remove_agent(device: Device, *, force: bool = False, reset: bool = True) -> CleanReport:
    """Remove everything belay left on the board: the agent's sessions, reaper, files, modules
    and its name ``_ba`` in the REPL's globals.

    Raises :class:`SessionError` while sessions with live leases are on the board, unless
    ``force``. On a board that cannot forget a module, the heap comes back only with a soft
    reset: done unless ``reset=False``. A board too full to run the removal is soft-reset
    first with ``force`` (``sessions_ended`` is then -1: all, unnamed); otherwise
    :class:`BoardOutOfMemoryError`.
    """
    try:
        live = await ask(device, calls.live_sessions())
    except DeviceExecError as error:
        if error.remote_type != "MemoryError" or not (force and reset):
            raise _full(device, error, force) from error
        await device.soft_reset()  # out of memory: only a reset frees it (and ends its sessions)
        await device.call(calls.remove_agent(AGENT_FILES))
        await _sweep_every_part(device)
        return CleanReport(-1, True)
    if isinstance(live, int) and live > 0 and not force:
        raise SessionError(
            f"the board on {device.port} holds {live} live belay session(s): end them first, "
            "or pass --force to end them now"
        )
    ended, zombies = _removal(await ask(device, calls.remove_agent(AGENT_FILES)))
    await _sweep_every_part(device)
    must_reset = reset and (not device.capabilities.has_module_registry or bool(zombies)) and live != -1
    if must_reset:
        await device.soft_reset()
    logger.info("belay agent removed from %s (%s sessions ended)", device.port, ended)
    return CleanReport(ended, must_reset, zombies)


def _removal(answer: Any) -> tuple[int, tuple[str, ...]]:
    """The removal's answer: the sessions it ended, the zombie threads it found."""
    if not (isinstance(answer, tuple) and len(answer) == 2 and isinstance(answer[1], list)):
        raise DeviceValueError(f"the board answered {answer!r:.100} to removing the agent")
    return as_int(answer[0], "the sessions it ended"), tuple(str(name) for name in answer[1])


async def _sweep_every_part(device: Device) -> None:
    """Remove the partial files of every put cut short (no session is left to own one)."""
    await ask(device, calls.sweep_parts(every=True, roomy=device.capabilities.heap >= ROOMY_TRANSFERS_FROM))


def _full(device: Device, error: DeviceExecError, force: bool) -> BelayError:
    if error.remote_type != "MemoryError":
        return error
    hint = "without --no-reset" if force else "with --force (it soft-resets the board)"
    return BoardOutOfMemoryError(
        f"the board on {device.port} is out of memory: it cannot even list its sessions; "
        f"run belay clean {hint}",
        port=device.port,
    )


__all__ = [
    "AGENT_FILES",
    "AgentInstall",
    "CleanReport",
    "agent_files",
    "agent_version",
    "ensure_agent",
    "loaded_version",
    "remove_agent",
]
