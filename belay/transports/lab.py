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
names the process holding it), unless the place was acquired by hand and every process using it
asks to share it (``lab_share``, ``--lab-share``): none of them then releases it.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import re
from pathlib import Path

from belay.errors import PortBusyError
from belay.transports.base import DEFAULT_LAB, DEFAULT_LINES, LabOptions, ModemLines, Transport
from belay.transports.lab_client import LabClient, LabSettings, PlaceAddress, parse_lab_port
from belay.transports.process import pid_alive

logger = logging.getLogger(__name__)


class LabTransport(Transport):
    """A place's serial port through ser2net, the place held while it is open; ``where`` says
    which place and exporter it is."""

    def __init__(self, port: str, inner: Transport, where: PlaceAddress, release: bool, client: LabClient,
                 lock: int) -> None:  # fmt: skip
        self.port, self.where, self.place = port, where, where.place
        self._inner, self._release, self._client, self._lock = inner, release, client, lock
        self.pacing = inner.pacing

    @property
    def releases(self) -> bool:
        """Whether closing releases the place (belay acquired it), not one acquired by hand."""
        return self._release

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
            release, self._release = self._release, False
            with anyio.CancelScope(shield=True), anyio.move_on_after(10):
                if release:
                    await _quietly_release(self._client, self.place)
            _unlock(self._lock)


async def open_lab_port(
    port: str,
    *,
    lines: ModemLines = DEFAULT_LINES,
    lab: LabOptions = DEFAULT_LAB,
    settings: LabSettings | None = None,
) -> LabTransport:
    """Acquire the place ``port`` names and open its serial port, waiting ``lab.wait`` seconds
    at most for it. Raises :class:`PortBusyError` (held by another identity, or by another belay
    process here; no free place with the tags in time; sharing refused) or
    :class:`PortNotFoundError`."""
    import anyio

    settings = settings or LabSettings.of(lab)
    client = LabClient(settings)
    deadline = anyio.current_time() + settings.wait
    place, tags = parse_lab_port(port)
    token = None
    if place is None:
        token, place = await client.reserve(tags, deadline)
    lock, acquired = await _take(client, port, place, token, deadline)
    try:
        if acquired and settings.share:
            await _quietly_release(client, place)
            raise PortBusyError(f"labgrid place {place!r} is shared only when acquired by hand "
                                f"(labgrid-client -p {place} acquire)", port=port)  # fmt: skip
        where, inner = await _open_where(client, place, acquired, lines)
    except BaseException:
        _unlock(lock)
        raise
    logger.info("lab: %s is %s", port, where.describe())
    return LabTransport(port, inner, where, acquired, client, lock)


async def _take(
    client: LabClient, port: str, place: str, token: str | None, deadline: float
) -> tuple[int, bool]:
    """This host's lock on ``place``, and the place acquired (through the reservation ``token``,
    cancelled whatever happens): ``(lock, acquired)``, holding nothing where it fails."""
    try:
        lock = _lock(client.settings.coordinator, place, port, shared=client.settings.share)
        try:
            return lock, await _acquire(client, f"+{token}" if token else place, deadline)
        except BaseException:
            _unlock(lock)
            raise
    finally:
        if token:
            await client.cancel(token)


async def _open_where(
    client: LabClient, place: str, acquired: bool, lines: ModemLines
) -> tuple[PlaceAddress, Transport]:
    """The place's address now and its serial port opened there; the place released again
    (where belay acquired it) if that fails."""
    from belay.transports.serial import SerialTransport

    try:
        where = await client.address(place)
        return where, await SerialTransport.open(f"rfc2217://{where.host}:{where.port}", lines=lines)
    except BaseException:
        if acquired:
            await _quietly_release(client, place)
        raise


async def _acquire(client: LabClient, place: str, deadline: float) -> bool:
    """Acquire ``place``, trying again until ``deadline`` (anyio's clock) while another identity
    holds it, saying so (again every :data:`~belay.transports.lab_client.PROGRESS_EVERY` s)."""
    import anyio

    from belay.transports.lab_client import PROGRESS_EVERY

    said, wait = None, client.settings.wait
    while True:
        try:
            return await client.acquire(place)
        except PortBusyError as busy:
            now = anyio.current_time()
            if said is None and wait > 0:
                logger.warning("lab: %s; waiting up to %g s for it", busy, wait)
                said = now
            elif said is not None and now - said >= PROGRESS_EVERY and now < deadline:
                logger.warning("lab: %s; %.0f s left", busy, deadline - now)
                said = now
            if now >= deadline:
                raise
            await anyio.sleep(min(1.0, deadline - now))


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


def _lock(coordinator: str | None, place: str, port: str, *, shared: bool = False) -> int:
    """Hold this host's lock on ``place``: alone, or ``shared`` with the other processes that
    share it. Raises :class:`PortBusyError` naming the processes that hold it."""
    folder = lock_folder()
    folder.mkdir(parents=True, exist_ok=True)
    name = re.sub(r"[^\w.-]", "_", f"{coordinator or 'default'}-{place}") + ".lock"
    fd = os.open(folder / name, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
    except BlockingIOError:
        holders = _holders(fd)
        os.close(fd)
        how = ", not shared" if shared else ""
        raise PortBusyError(f"labgrid place {place!r} is in use by belay {holders} on this host{how}",
                            port=port) from None  # fmt: skip
    if not shared:
        os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())  # O_APPEND: sharers' lines never overwrite each other
    return fd


def _holders(fd: int) -> str:
    """``process 41234`` or ``processes 41234, 41240``: the living processes the lock file names."""
    text = os.pread(fd, 4096, 0).decode("ascii", "replace")
    pids = [int(word) for word in text.split() if word.isdigit()]
    alive = [pid for pid in dict.fromkeys(pids) if pid_alive(pid)] or pids[-1:]
    if len(alive) == 1:
        return f"process {alive[0]}"
    return f"processes {', '.join(map(str, alive))}" if alive else "process ?"


def _unlock(fd: int) -> None:
    """Let go of the lock; the last process out (the lock its own alone) empties the file."""
    with contextlib.suppress(OSError):
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        os.ftruncate(fd, 0)
    with contextlib.suppress(OSError):
        os.close(fd)
