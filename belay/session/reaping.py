"""Reaping on demand: end the sessions on a board whose hosts went silent.

The agent reaps by itself too (when a session begins, and every 250 ms where the board has
threads or a timer); what it reaped waits on the board until a host collects it, so it can be
journaled. This module is what ``belay reap`` and :meth:`DeviceSessionManager.reap` use.
"""

from __future__ import annotations

import logging
from typing import Any

from belay.agent import calls
from belay.agent.answers import ask
from belay.agent.install import FOREIGN, MISSING, NO_MEMORY, agent_version, loaded_version
from belay.device import Device
from belay.errors import BoardOutOfMemoryError, DeviceExecError, SessionError
from belay.journal import Journal
from belay.session.records import ReapedSession, reaped_sessions

logger = logging.getLogger(__name__)


async def reap_board(device: Device, *, every: bool = False) -> list[ReapedSession]:
    """End every session on ``device`` whose lease ran out (every session, with ``every``);
    return them, with what the agent had reaped by itself since a host last asked.

    A board without the agent has nothing to reap; one with another agent version is refused
    (its records cannot be read safely): reset it to clear it.
    """
    version = await loaded_version(device)  # writes nothing, resets nothing
    if version in (MISSING, FOREIGN):
        return []
    if version == NO_MEMORY:
        raise out_of_memory(device.port)
    if version != agent_version():
        raise SessionError(
            f"the board on {device.port} runs belay agent {version!r}, not {agent_version()!r}: "
            "reset the board to clear its sessions"
        )
    try:
        found = reaped_sessions(await ask(device, calls.reap(every)))
    except DeviceExecError as error:
        if error.remote_type == "MemoryError":
            raise out_of_memory(device.port) from error
        raise
    for reaped in found:
        logger.info("reaped session %s on %s (idle %d ms)", reaped.session_id, device.port, reaped.idle_ms)
    return found


def out_of_memory(port: str) -> BoardOutOfMemoryError:
    return BoardOutOfMemoryError(
        f"the board on {port} is out of memory: it cannot run the call that would end its sessions "
        "(a soft reset ends them all)",
        port=port,
    )


async def reap_all_or_reset(device: Device, *, allow_reset: bool = True) -> tuple[list[ReapedSession], bool]:
    """End every session on ``device``; a board too full to do so is soft-reset instead
    (unless ``allow_reset`` is false: :class:`BoardOutOfMemoryError`). Returns the sessions
    ended, and whether the board was reset (which ended them all, unnamed)."""
    try:
        return await reap_board(device, every=True), False
    except BoardOutOfMemoryError:
        if not allow_reset:
            raise
    logger.warning("the board on %s is out of memory: soft-resetting it", device.port)
    await device.soft_reset()
    return [], True


def journal_reaped(journal: Journal, port: str, reaped: list[ReapedSession], **extra: Any) -> None:
    """One ``reaped`` event per session in ``reaped`` (with ``extra`` fields)."""
    for item in reaped:
        journal.record(
            "reaped", port=port, session_id=item.session_id, reason=item.reason,
            idle_ms=item.idle_ms, problems=list(item.problems), **extra,
        )  # fmt: skip


__all__ = ["journal_reaped", "out_of_memory", "reap_all_or_reset", "reap_board"]
