"""One open board as the sessions on it share it: its device, the agent's state, its files.

"Board" in the session layer means this: a :class:`~belay.device.Device` plus what the host
knows of the agent and the files on it. (The board's identity is
:class:`~belay.board_info.DeviceInfo`; what the agent holds is read with ``belay stats``.)
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from typing import Any, Protocol

import anyio
from anyio.abc import AsyncResource

from belay.agent import calls
from belay.agent.answers import ask
from belay.agent.install import AgentInstall, ensure_agent
from belay.agent.names import ON_DEMAND_MODULES
from belay.device import Device
from belay.errors import DeviceExecError, DeviceValueError
from belay.heap import ROOMY_TRANSFERS_FROM
from belay.session.files.cache import FileCache
from belay.session.records import ReapedSession, reaped_sessions

logger = logging.getLogger(__name__)


class BoardSession(Protocol):
    """What a board knows of a session open on it."""

    session_id: str
    token: str
    renewed_at: float

    @property
    def lease(self) -> float: ...

    def board_rebooted(self) -> None: ...


class Board(AsyncResource):
    """A device plus the agent's state on it; the agent is checked once per board boot.

    ``orphans`` maps the tokens of sessions a lost connection to this board left behind to
    their ids: when the board comes back without a reboot, they are ended before the next
    session begins (after a reboot there is nothing left of them).
    """

    def __init__(self, device: Device, orphans: dict[str, str] | None = None) -> None:
        self.device = device
        self.sessions: dict[str, BoardSession] = {}  # the sessions open on it, by id
        self.orphans = dict(orphans or {})
        self.files = FileCache()
        self.last_install: AgentInstall | None = None
        self._agent_boot: int | None = None
        self._parts_boot: dict[str, int] = {}  # on-demand agent parts -> the boot they were sent in
        self._lock = anyio.Lock()
        device.reboot_listeners.append(self._rebooted)

    def _rebooted(self, how: str) -> None:
        """The board rebooted: every session on it is LOST at once (it holds nothing of them)."""
        logger.info("%s: its %d session(s) here are lost", how, len(self.sessions))
        for session in list(self.sessions.values()):
            session.board_rebooted()

    @property
    def port(self) -> str:
        return self.device.port

    @property
    def agent_loaded(self) -> bool:
        """Whether the agent was loaded since the board's last boot (no reboot since)."""
        return self._agent_boot == self.device.reboots

    async def ensure_agent(self) -> list[ReapedSession]:
        """Load the agent unless it is known loaded since the board's last boot (sends nothing);
        returns the orphaned sessions it ended on the way."""
        if self._agent_boot == self.device.reboots:
            return []
        async with self._lock:
            if self._agent_boot == self.device.reboots:
                return []
            roomy = self.device.capabilities.heap >= ROOMY_TRANSFERS_FROM
            if not roomy and not await self.device.eval_code(calls.agent_loaded()):
                # a small heap, booted since: swept before the agent loads (the sweep's code is
                # sent only then: compiling it costs the micro:bit ~400 B of heap for good)
                await self._sweep_parts(calls.sweep_parts(roomy=False, unless_loaded=True))
            self.last_install = await ensure_agent(self.device)
            if self.device.capabilities.threads:
                await self.device.exec(calls.start_threads())
            self.files = FileCache(root=str(await self.value(calls.root())))
            self._agent_boot = self.device.reboots
            if roomy:
                await self._sweep_parts(calls.sweep_parts())
            return await self._end_orphans()

    async def _sweep_parts(self, code: str) -> None:
        """Remove the partial files of puts by sessions the board no longer holds (a reboot or a
        killed host cut them short); best effort: a board that cannot is left as it is."""
        try:
            removed = await self.value(code)
        except (DeviceExecError, DeviceValueError) as error:
            logger.warning("could not sweep partial files on %s: %s", self.port, error)
            return
        if removed:
            logger.info("removed %s partial file(s) of ended sessions on %s", removed, self.port)

    def once_per_boot(self, part: str) -> str:
        """The code that installs an on-demand part of the agent (``"generators"``,
        ``"proxies"``), or ``""`` when it was sent since the board's last boot."""
        if self._parts_boot.get(part) == self.device.reboots:
            return ""
        self._parts_boot[part] = self.device.reboots
        return calls.load_part(ON_DEMAND_MODULES[part]) + "\n"

    def unsure(self, part: str) -> None:
        """A call that may have installed ``part`` failed: send it again next time (harmless)."""
        self._parts_boot.pop(part, None)

    async def value(self, code: str, *, timeout: float | None = None) -> Any:
        """Run agent ``code`` outside any session and return the value it answers."""
        return await ask(self.device, code, timeout=timeout)

    def token_with_a_free_handle(self, token: str) -> str:
        """``token``, or a fresh one where its handle is already one of this host's sessions
        here (or of the orphans a lost connection left here): the agent takes the first
        session a handle names. A session's token is chosen once, here, and never changes
        (its files and tasks keep it from the start); register the session in
        :attr:`sessions` with no ``await`` between, so sessions opening at once never meet."""
        taken = {calls.handle_of(other.token) for other in self.sessions.values()}
        taken.update(calls.handle_of(orphan) for orphan in self.orphans)
        while calls.handle_of(token) in taken:
            token = secrets.token_urlsafe(8)
        return token

    def tokens_to_renew(self, asking: BoardSession, now: float) -> Iterable[str]:
        """This host's other sessions here not renewed lately (a long call may have kept their
        renewals off the line): ``begin`` renews them before it reaps."""
        return [
            s.token for s in self.sessions.values() if s is not asking and s.renewed_at < now - s.lease / 3
        ]

    async def _end_orphans(self) -> list[ReapedSession]:
        if not self.orphans:
            return []
        ended = await self.value(calls.end_orphans(self.orphans))
        self.orphans.clear()
        found = reaped_sessions(ended, reason="lost")
        for reaped in found:
            logger.info("ended session %s, left on %s by a lost connection", reaped.session_id, self.port)
        return found

    async def aclose(self) -> None:
        await self.device.aclose()
