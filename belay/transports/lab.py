"""Boards in a labgrid lab: the ports ``labgrid:PLACE`` and ``labgrid:KEY=VALUE[,KEY=VALUE]``.

Opening one acquires the place through labgrid's own client (:mod:`belay.transports.lab_client`),
or, for tags, reserves any free place that has them and acquires that; asks the coordinator
where ser2net serves its serial port now (the TCP port changes at every acquire and whenever
the exporter restarts ser2net); and opens it as ``rfc2217://HOST:PORT``. Closing releases the
place, unless this identity held it already (acquired by hand with ``labgrid-client``), which
is left as it was. Reopening after a lost connection asks the coordinator again, so a board the
exporter moved is found at its new address.

labgrid lets two clients of one identity share a place's line, and the second one's raw-REPL
entry interrupts the first: belay allows one process per place on this host (a lock file that
names the process holding it).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
from pathlib import Path

from belay.errors import PortBusyError, PortNotFoundError
from belay.transports.base import DEFAULT_LINES, ModemLines, Transport
from belay.transports.lab_client import LabClient, LabSettings
from belay.transports.port_names import LAB_PREFIX

logger = logging.getLogger(__name__)

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


class LabTransport(Transport):
    """A place's serial port through ser2net, the place held while it is open."""

    def __init__(self, port: str, inner: Transport, release: list[str], client: LabClient, lock: int) -> None:
        self.port = port
        self.place = release[0] if release else None
        self._inner, self._release, self._client, self._lock = inner, release, client, lock
        self.pacing = inner.pacing

    async def send(self, data: bytes) -> None:
        await self._inner.send(data)

    async def receive(self, max_bytes: int = 65536) -> bytes:
        return await self._inner.receive(max_bytes)

    async def drain(self) -> None:
        await self._inner.drain()

    def receive_nowait(self, max_bytes: int = 65536) -> bytes:
        return self._inner.receive_nowait(max_bytes)

    def hung_up(self) -> bool:
        return self._inner.hung_up()

    async def aclose(self) -> None:
        import anyio

        try:
            await self._inner.aclose()
        finally:
            release, self._release = self._release, []
            with anyio.CancelScope(shield=True), anyio.move_on_after(10):
                for place in release:
                    await _quietly_release(self._client, place)
            _unlock(self._lock)


async def open_lab_port(
    port: str, *, lines: ModemLines = DEFAULT_LINES, settings: LabSettings | None = None
) -> LabTransport:
    """Acquire the place ``port`` names and open its serial port. Raises
    :class:`PortBusyError` (held by another identity, or by another belay process here; no free
    place with the tags within ``settings.wait``) or :class:`PortNotFoundError`."""
    from belay.transports.serial import SerialTransport

    settings = settings or LabSettings.from_env()
    client = LabClient(settings)
    place, tags = parse_lab_port(port)
    token = None
    if place is None:
        token, place = await client.reserve(tags, settings.wait)
    lock = _lock(settings.coordinator, place, port)
    try:
        acquired = await _acquire(client, f"+{token}" if token else place, settings.wait)
        if token:
            await client.cancel(token)
        release = [place] if acquired else []
        try:
            host, tcp = await client.address(place)
            inner = await SerialTransport.open(f"rfc2217://{host}:{tcp}", lines=lines)
        except BaseException:
            for held in release:
                await _quietly_release(client, held)
            raise
    except BaseException:
        _unlock(lock)
        raise
    logger.info("lab: %s is place %s at %s:%d", port, place, host, tcp)
    return LabTransport(port, inner, release, client, lock)


async def _acquire(client: LabClient, place: str, wait: float) -> bool:
    """Acquire ``place``, trying again for ``wait`` seconds while another identity holds it."""
    import anyio

    deadline = anyio.current_time() + wait
    while True:
        try:
            return await client.acquire(place)
        except PortBusyError as busy:
            left = deadline - anyio.current_time()
            if left <= 0:
                raise
            logger.warning("lab: %s; waiting up to %.0f s more for it", busy, left)
            await anyio.sleep(min(1.0, left))


async def _quietly_release(client: LabClient, place: str) -> None:
    from belay.errors import TransportError

    try:
        await client.release(place)
    except TransportError as error:
        logger.warning("lab: place %s not released: %s (belay lab release %s)", place, error, place)


def lock_folder() -> Path:
    """Where this host's belay processes note which lab places they have open."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("belay", appauthor=False)) / "lab"


def _lock(coordinator: str | None, place: str, port: str) -> int:
    """Hold this host's lock on ``place`` (one belay process per place); raises
    :class:`PortBusyError` naming the process that holds it."""
    folder = lock_folder()
    folder.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^\w.-]", "_", f"{coordinator or 'default'}-{place}") + ".lock"
    fd = os.open(folder / name, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
        os.close(fd)
        raise PortBusyError(
            f"labgrid place {place!r} is in use by belay process {holder} on this host", port=port
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    return fd


def _unlock(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
    with contextlib.suppress(OSError):
        os.close(fd)
