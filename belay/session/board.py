"""One open board shared by the sessions on it: its device, and whether the agent is loaded."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import anyio

from belay.device import Device
from belay.session.agent import AgentInstall, ensure_agent
from belay.session.records import ReapedSession, reaped_sessions

if TYPE_CHECKING:
    from belay.session.session import DeviceSession

logger = logging.getLogger(__name__)

_END_ORPHANS = (
    "print(repr([(_ba.S[t].sid, -1, _ba._end(_ba.S[t], 200)) for t in {tokens!r} if t in _ba.S]))\n"
    "__import__('gc').collect()"
)


class Board:
    """A device plus the agent's state on it; the agent is checked once per board boot.

    ``orphans`` maps the tokens of sessions a lost connection to this board left behind to
    their ids: when the board comes back without a reboot, they are ended before the next
    session begins (after a reboot there is nothing left of them).
    """

    def __init__(self, device: Device, orphans: dict[str, str] | None = None) -> None:
        self.device = device
        self.sessions: dict[str, DeviceSession] = {}  # the sessions open on it, by id
        self.orphans = dict(orphans or {})
        self.last_install: AgentInstall | None = None
        self._agent_boot: int | None = None
        self._lock = anyio.Lock()

    @property
    def port(self) -> str:
        return self.device.port

    async def ensure_agent(self) -> list[ReapedSession]:
        """Load the agent unless it is known loaded since the board's last boot (sends nothing);
        returns the orphaned sessions it ended on the way."""
        if self._agent_boot == self.device.reboots:
            return []
        async with self._lock:
            if self._agent_boot == self.device.reboots:
                return []
            self.last_install = await ensure_agent(self.device)
            if self.device.capabilities.threads:
                await self.device.exec("import belay_agent_threads as _bat\n_bat.start_reaper()")
            self._agent_boot = self.device.reboots
            return await self._end_orphans()

    async def _end_orphans(self) -> list[ReapedSession]:
        if not self.orphans:
            return []
        ended = await self.device.eval_code(_END_ORPHANS.format(tokens=list(self.orphans)))
        self.orphans.clear()
        found = reaped_sessions(ended, reason="lost")
        for reaped in found:
            logger.info("ended session %s, left on %s by a lost connection", reaped.session_id, self.port)
        return found

    async def aclose(self) -> None:
        await self.device.aclose()
