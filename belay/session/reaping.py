"""Reaping on demand: end the sessions on a board whose hosts went silent.

The agent reaps by itself too (when a session begins, and every 250 ms where the board has
threads or a timer); what it reaped waits on the board until a host collects it, so it can be
journaled. This module is what ``belay reap`` and :meth:`DeviceSessionManager.reap` use.
"""

from __future__ import annotations

import logging

from belay.device import Device
from belay.errors import DeviceExecError, SessionError
from belay.session.agent import agent_version
from belay.session.records import ReapedSession, reaped_sessions

logger = logging.getLogger(__name__)

_REAP = "_ba.reap()\nprint(repr(_ba.reaped))\ndel _ba.reaped[:]"
_EXPIRE_ALL = "[setattr(s, 'lease', -1) for s in _ba.S.values()]\n"


async def loaded_agent(device: Device) -> str | None:
    """The version of the agent on ``device`` (imported as ``_ba``), ``None`` if it has none.

    Nothing is written and nothing is reset: a board with another agent keeps it.
    """
    try:
        await device.exec("import belay_agent as _ba")
    except DeviceExecError as error:
        if error.remote_type == "ImportError":
            return None
        raise
    return str(await device.eval("_ba.VERSION"))


async def reap_board(device: Device, *, every: bool = False) -> list[ReapedSession]:
    """End every session on ``device`` whose lease ran out (every session, with ``every``);
    return them, with what the agent had reaped by itself since a host last asked.

    A board without the agent has nothing to reap; one with another agent version is refused
    (its records cannot be read safely): reset it to clear it.
    """
    version = await loaded_agent(device)
    if version is None:
        return []
    if version != agent_version():
        raise SessionError(
            f"the board on {device.port} runs belay agent {version!r}, not {agent_version()!r}: "
            "reset the board to clear its sessions"
        )
    found = reaped_sessions(await device.eval_code((_EXPIRE_ALL if every else "") + _REAP))
    for reaped in found:
        logger.info("reaped session %s on %s (idle %d ms)", reaped.session_id, device.port, reaped.idle_ms)
    return found


__all__ = ["loaded_agent", "reap_board"]
