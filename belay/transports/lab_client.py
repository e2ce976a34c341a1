"""labgrid's own client, run as the ``labgrid-client`` command: belay never speaks its protocol.

labgrid installs a fork of pyserial into the same ``serial/`` package as pyserial (labgrid issue
1245), so it lives in an environment of its own; belay finds its client on ``PATH`` (or at
``$BELAY_LABGRID_CLIENT``) and asks the coordinator at ``$LG_COORDINATOR`` (labgrid's own
variable). The place's identity is labgrid's: ``$LG_HOSTNAME`` / ``$LG_USERNAME``, else this
host and user.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field

import anyio

from belay.errors import PortBusyError, PortNotFoundError, TransportError
from belay.transports.base import LabOptions
from belay.transports.port_names import LAB_PREFIX

logger = logging.getLogger(__name__)

CALL_TIMEOUT = 30.0
"""The most one ``labgrid-client`` command may take (the coordinator answers in milliseconds)."""
GRACE = 5.0
"""What ``labgrid-client wait`` may take to see a reservation a free place meets allocated (its
own start, the coordinator's scheduling): not counted as waiting."""
PROGRESS_EVERY = 10.0
"""How often a wait for a place says it still waits."""

_HELD_BY = re.compile(r"already acquired by (\S+?)\.?(?:\s|$)")
_OURS = re.compile(r"You have already acquired place")
_PLACE = re.compile(r"^Place '([^']+)':", re.M)
_RESOURCE = re.compile(r"^Acquired resource '[^']*' \(([^)]*)\):\n((?:  .*\n?)+)", re.M)
_TOKEN = re.compile(r"LG_TOKEN=(\w+)")


_TAG = re.compile(r"^([\w.-]+)=([^,=]+)$")


def parse_lab_port(port: str) -> tuple[str | None, dict[str, str]]:
    """``(place, {})`` for ``labgrid:PLACE``, ``(None, tags)`` for ``labgrid:KEY=VALUE,...``.
    Raises :class:`PortNotFoundError` for anything else."""
    what = port[len(LAB_PREFIX) :]
    if not what:
        raise PortNotFoundError(f"{port!r} names no place: labgrid:PLACE or labgrid:KEY=VALUE", port=port)
    if "=" not in what:
        return what, {}
    tags = [_TAG.match(item.strip()) for item in what.split(",")]
    if not all(tags):
        raise PortNotFoundError(f"{port!r}: tags are KEY=VALUE pairs separated by commas", port=port)
    return None, {match.group(1): match.group(2) for match in tags if match}


@dataclass(frozen=True)
class LabSettings:
    """Where the lab is (``coordinator``: ``None`` for labgrid's default), the client to run, how
    long to wait for a place (seconds, 0 for not at all), and whether to share one acquired by hand."""

    coordinator: str | None = None
    client: str = "labgrid-client"
    wait: float = 0.0
    share: bool = False
    environ: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, lab: LabOptions, environ: Mapping[str, str] | None = None) -> LabSettings:
        """``lab``, with ``$LG_COORDINATOR`` where it names no coordinator, and the client
        ``$BELAY_LABGRID_CLIENT`` names (else ``labgrid-client`` on ``PATH``)."""
        env = dict(os.environ if environ is None else environ)
        coordinator = lab.coordinator or env.get("LG_COORDINATOR") or None
        client = env.get("BELAY_LABGRID_CLIENT") or "labgrid-client"
        return cls(coordinator, client, lab.wait, lab.share, env)


@dataclass(frozen=True)
class PlaceAddress:
    """Where a place's serial port is served now: the exporter, and ser2net's host and TCP port."""

    place: str
    exporter: str
    host: str
    port: int

    def describe(self) -> str:
        return f"place {self.place} on exporter {self.exporter} ({self.host}:{self.port})"


@dataclass(frozen=True)
class LabPlace:
    """A place as the coordinator lists it: its tags, the exporters its matches name (``*``: any),
    and who holds it (``host/user``, or ``None``)."""

    name: str
    tags: Mapping[str, str]
    exporters: tuple[str, ...]
    holder: str | None

    def has(self, tags: Mapping[str, str]) -> bool:
        return all(self.tags.get(key) == value for key, value in tags.items())


def parse_places(listing: str) -> list[LabPlace]:
    """The places of ``labgrid-client -v places``."""
    places = []
    for block in re.split(r"^(?=Place ')", listing, flags=re.M):
        name = _PLACE.match(block)
        if name is None:
            continue
        tags_line = re.search(r"^  tags: *(.*)$", block, re.M)
        pairs = (item.strip().partition("=") for item in (tags_line.group(1) if tags_line else "").split(","))
        matches = re.search(r"^  matches:\n((?:    .*\n?)*)", block, re.M)
        patterns = matches.group(1).split() if matches else []
        holder = re.search(r"^  acquired: *(\S+)", block, re.M)
        places.append(LabPlace(
            name.group(1), {key: value for key, _, value in pairs if key},
            tuple(dict.fromkeys(pattern.split("/", 1)[0] for pattern in patterns)),
            holder.group(1) if holder and holder.group(1) != "None" else None,
        ))  # fmt: skip
    return places


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
            raise _NoAnswer(
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
        """Release ``place``; raises :class:`TransportError` where another identity holds it."""
        await self.run("-p", place, "release")

    async def release_held(self) -> list[str]:
        """Release every place this identity holds (labgrid refuses the others'); their names."""
        released = []
        for place in await self.places():
            if place.holder is None:
                continue
            try:
                await self.release(place.name)
            except TransportError as error:
                logger.debug("lab: %s left acquired: %s", place.name, error)
            else:
                released.append(place.name)
        return released

    async def address(self, place: str) -> PlaceAddress:
        """Where ser2net serves ``place``'s serial port now, and which exporter runs it.
        Raises :class:`PortNotFoundError` for a place with no network serial port acquired."""
        shown = await self.run("-p", place, "show")
        for match in _RESOURCE.finditer(shown):
            from belay.literals import loads

            resource = loads(" ".join(line.strip() for line in match.group(2).splitlines()))
            params = resource.get("params", {}) if isinstance(resource, dict) else {}
            if resource.get("cls") == "NetworkSerialPort" and {"host", "port"} <= set(params):
                exporter = match.group(1).split("/", 1)[0]
                return PlaceAddress(place, exporter, str(params["host"]), int(params["port"]))
        raise PortNotFoundError(f"labgrid place {place!r} has no network serial port acquired")

    async def reserve(self, tags: Mapping[str, str], deadline: float) -> tuple[str, str]:
        """``(token, place)``: a reservation of a free place with ``tags``, waited for until
        ``deadline`` (anyio's clock) with a progress line, then cancelled: :class:`PortBusyError`."""
        filters = ",".join(f"{key}={value}" for key, value in tags.items())
        token = _TOKEN.search(await self.run("reserve", "--shell", *filters.split(",")))
        if token is None:
            raise TransportError(f"labgrid's coordinator gave no reservation for {filters}")
        try:
            await self._allocated(token.group(1), filters, deadline)
            place = _PLACE.search(await self.run("-p", f"+{token.group(1)}", "show"))
        except BaseException:
            await self.cancel(token.group(1))
            raise
        if place is None:
            await self.cancel(token.group(1))
            raise TransportError(f"labgrid's reservation for {filters} names no place")
        return token.group(1), place.group(1)

    async def _allocated(self, token: str, filters: str, deadline: float) -> None:
        """Wait until reservation ``token`` holds a place: :data:`GRACE` for one that is free, then
        until ``deadline``, saying so (again every :data:`PROGRESS_EVERY` s); :class:`PortBusyError` then."""
        step, wait, first = GRACE, self.settings.wait, True
        while True:
            try:
                await self.run("wait", token, timeout=step)
                return
            except _NoAnswer:
                left = deadline - anyio.current_time()
                if first and wait > 0:
                    logger.warning(
                        "lab: no free labgrid place with %s yet; waiting up to %g s for one", filters, wait
                    )
                elif left > 0:
                    logger.warning("lab: still no free labgrid place with %s; %.0f s left", filters, left)
                if left <= 0:
                    raise PortBusyError(f"no free labgrid place with {filters} within {wait:g} s") from None
                step, first = max(0.1, min(PROGRESS_EVERY, left)), False

    async def cancel(self, token: str) -> None:
        with anyio.CancelScope(shield=True):
            try:
                await self.run("cancel-reservation", token)
            except TransportError as error:
                logger.debug("lab: reservation not cancelled: %s", error)

    async def places(self) -> list[LabPlace]:
        """The lab's places, their tags, exporters and holders."""
        return parse_places(await self.run("-v", "places"))


class _AlreadyOurs(TransportError):
    """This identity holds the place already."""


class _NoAnswer(TransportError):
    """``labgrid-client`` did not finish in the time it was given."""


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


__all__ = [
    "CALL_TIMEOUT",
    "LabClient",
    "LabPlace",
    "LabSettings",
    "PlaceAddress",
    "parse_lab_port",
    "parse_places",
]
