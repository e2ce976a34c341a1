"""labgrid's own client, run as the ``labgrid-client`` command: belay never speaks its protocol.

labgrid installs a fork of pyserial into the same ``serial/`` package as pyserial (labgrid issue
1245), so it lives in an environment of its own; belay finds its client on ``PATH`` (or at
``$BELAY_LABGRID_CLIENT``) and asks the coordinator at ``$LG_COORDINATOR`` (labgrid's own
variable). The place's identity is labgrid's: ``$LG_HOSTNAME`` / ``$LG_USERNAME``, else this
host and user.
"""

from __future__ import annotations

import logging
import math
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field

import anyio

from belay.errors import PortBusyError, PortNotFoundError, TransportError

logger = logging.getLogger(__name__)

CALL_TIMEOUT = 30.0
"""The most one ``labgrid-client`` command may take (the coordinator answers in milliseconds)."""

_HELD_BY = re.compile(r"already acquired by (\S+?)\.?(?:\s|$)")
_OURS = re.compile(r"You have already acquired place")
_PLACE = re.compile(r"^Place '([^']+)':", re.M)
_RESOURCE = re.compile(r"^Acquired resource '[^']*' \([^)]*\):\n((?:  .*\n?)+)", re.M)
_TOKEN = re.compile(r"LG_TOKEN=(\w+)")


@dataclass(frozen=True)
class LabSettings:
    """Where the lab is and how long to wait for a place (``wait``: seconds, 0 for not at all)."""

    coordinator: str | None = None
    client: str = "labgrid-client"
    wait: float = 0.0
    environ: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> LabSettings:
        """``$LG_COORDINATOR``, ``$BELAY_LABGRID_CLIENT`` and ``$BELAY_LAB_WAIT`` (seconds)."""
        env = dict(os.environ if environ is None else environ)
        text = env.get("BELAY_LAB_WAIT", "0") or "0"
        try:
            wait = float(text)
        except ValueError:
            raise PortNotFoundError(f"BELAY_LAB_WAIT is a number of seconds, not {text!r}") from None
        if not math.isfinite(wait) or wait < 0:
            raise PortNotFoundError(f"BELAY_LAB_WAIT is a finite number of seconds >= 0, not {text!r}")
        client = env.get("BELAY_LABGRID_CLIENT") or "labgrid-client"
        return cls(env.get("LG_COORDINATOR") or None, client, wait, env)


class LabClient:
    """The coordinator's answers, through ``labgrid-client``; failures are :class:`TransportError`
    subclasses naming the place (:class:`PortBusyError` for a place another identity holds)."""

    def __init__(self, settings: LabSettings) -> None:
        self.settings = settings

    def command(self) -> list[str]:
        found = shutil.which(self.settings.client, path=self.settings.environ.get("PATH"))
        if found is None:
            raise PortNotFoundError(
                f"labgrid's client {self.settings.client!r} was not found: install labgrid in an "
                "environment of its own and put its labgrid-client on PATH (or set $BELAY_LABGRID_CLIENT)"
            )
        coordinator = ["-x", self.settings.coordinator] if self.settings.coordinator else []
        return [found, *coordinator]

    async def run(self, *arguments: str, timeout: float = CALL_TIMEOUT) -> str:
        """What ``labgrid-client ARGUMENTS`` printed; its last error line as a :class:`TransportError`."""
        command = [*self.command(), *arguments]
        logger.debug("lab: %s", " ".join(arguments))
        try:
            with anyio.fail_after(timeout):
                done = await anyio.run_process(command, check=False, env=dict(self.settings.environ))
        except TimeoutError:
            raise TransportError(
                f"labgrid's coordinator did not answer `{' '.join(arguments)}` in {timeout:g} s"
            ) from None
        if done.returncode != 0:
            raise _lab_error(done.stderr.decode("utf-8", "replace"), arguments)
        return done.stdout.decode("utf-8", "replace")

    async def acquire(self, place: str) -> bool:
        """Acquire ``place``; ``False`` where this identity holds it already (it is left as it is).
        Raises :class:`PortBusyError` naming the identity that holds it."""
        try:
            await self.run("-p", place, "acquire")
        except _AlreadyOurs:
            return False
        return True

    async def release(self, place: str) -> None:
        await self.run("-p", place, "release")

    async def address(self, place: str) -> tuple[str, int]:
        """The host and TCP port ser2net serves ``place``'s serial port on now."""
        shown = await self.run("-p", place, "show")
        for match in _RESOURCE.finditer(shown):
            from belay.literals import loads

            resource = loads(" ".join(line.strip() for line in match.group(1).splitlines()))
            params = resource.get("params", {}) if isinstance(resource, dict) else {}
            if resource.get("cls") == "NetworkSerialPort" and {"host", "port"} <= set(params):
                return str(params["host"]), int(params["port"])
        raise PortNotFoundError(f"labgrid place {place!r} has no network serial port acquired")

    async def reserve(self, tags: Mapping[str, str], wait: float) -> tuple[str, str]:
        """``(token, place)``: a reservation of a free place with ``tags``, waited for ``wait``
        seconds at most (then cancelled: :class:`PortBusyError`)."""
        filters = [f"{key}={value}" for key, value in tags.items()]
        token = _TOKEN.search(await self.run("reserve", "--shell", *filters))
        if token is None:
            raise TransportError(f"labgrid's coordinator gave no reservation for {','.join(filters)}")
        try:
            await self.run("wait", token.group(1), timeout=wait + 2.0)
        except TransportError:
            await self.cancel(token.group(1))
            raise PortBusyError(
                f"no free labgrid place with {','.join(filters)} within {wait:g} s (set "
                "$BELAY_LAB_WAIT to wait longer)"
            ) from None
        place = _PLACE.search(await self.run("-p", f"+{token.group(1)}", "show"))
        if place is None:
            raise TransportError(f"labgrid's reservation for {','.join(filters)} names no place")
        return token.group(1), place.group(1)

    async def cancel(self, token: str) -> None:
        with anyio.CancelScope(shield=True):
            try:
                await self.run("cancel-reservation", token)
            except TransportError as error:
                logger.debug("lab: reservation not cancelled: %s", error)

    async def places(self) -> str:
        """The places as ``labgrid-client who`` and ``places`` list them, for people."""
        return await self.run("places") + "\n" + await self.run("who")


class _AlreadyOurs(TransportError):
    """This identity holds the place already."""


def _lab_error(stderr: str, arguments: tuple[str, ...]) -> TransportError:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    message = next((line for line in reversed(lines) if "Error:" in line), lines[-1] if lines else "")
    message = message.removeprefix("labgrid-client: ").removeprefix("Error: ")
    place = arguments[1] if arguments[:1] == ("-p",) else None
    if _OURS.search(message):
        return _AlreadyOurs(message, port=place)
    held = _HELD_BY.search(message)
    if held is not None:
        return PortBusyError(f"labgrid place {place!r} is held by {held.group(1)}", port=place)
    if "matches nothing" in message or "does not exist" in message:
        return PortNotFoundError(f"no labgrid place {place or ''!r}: {message}".strip(), port=place)
    return TransportError(f"labgrid: {message or 'labgrid-client failed'}", port=place)


__all__ = ["CALL_TIMEOUT", "LabClient", "LabSettings"]
