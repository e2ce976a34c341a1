"""One open board shared by the sessions on it: its device, and whether the agent is loaded."""

from __future__ import annotations

import logging

import anyio

from belay.device import Device
from belay.session.agent import AgentInstall, ensure_agent

logger = logging.getLogger(__name__)


class Board:
    """A device plus the agent's state on it; the agent is checked once per board boot."""

    def __init__(self, device: Device) -> None:
        self.device = device
        self.sessions: set[str] = set()
        self.last_install: AgentInstall | None = None
        self._agent_boot: int | None = None
        self._lock = anyio.Lock()

    @property
    def port(self) -> str:
        return self.device.port

    async def ensure_agent(self) -> None:
        """Load the agent unless it is known loaded since the board's last boot (sends nothing)."""
        if self._agent_boot == self.device.reboots:
            return
        async with self._lock:
            if self._agent_boot == self.device.reboots:
                return
            self.last_install = await ensure_agent(self.device)
            if self.device.capabilities.threads:
                await self.device.exec("import belay_agent_threads as _bat")
            self._agent_boot = self.device.reboots

    async def aclose(self) -> None:
        await self.device.aclose()
