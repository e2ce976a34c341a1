"""Files through ``session.fs``: round trips, listings, removal, and temp files gone with the session."""

from __future__ import annotations

import pytest

from belay import DeviceSession, DeviceSessionManager
from belay.device import Device
from belay.session.files.facade import RemoteFileNotFoundError

pytestmark = pytest.mark.anyio

BINARY = bytes(range(256)) + b"\r\n\x04" * 10  # every byte value, more than one 256-byte chunk
TEXT = b"belay\r\n" * 40  # as long, but its calls stay short


def data_for(observer: Device) -> bytes:
    """Binary data where the heap has room; text on a micro:bit, where the first 1 KB call (a binary
    chunk, each byte sent as \\xNN) grows the raw REPL's input buffer for good and so counts as a leak."""
    return BINARY if observer.capabilities.mem_free > 64_000 else TEXT


async def listing(observer: Device) -> list[str]:
    return sorted(await observer.eval("__import__('os').listdir()"))


async def test_put_get_ls_rm(belay_session: DeviceSession, observer: Device) -> None:
    data = data_for(observer)
    assert await belay_session.fs.put(data, "hil.bin") is True
    assert await belay_session.fs.get("hil.bin") == data
    assert "hil.bin" in await belay_session.fs.ls()
    assert await belay_session.fs.put(data, "hil.bin") is False  # unchanged: not written again
    await belay_session.fs.rm("hil.bin")
    assert "hil.bin" not in await listing(observer)
    with pytest.raises(RemoteFileNotFoundError):
        await belay_session.fs.get("hil.bin")


async def test_temp_files_are_removed_with_their_session(
    belay_manager: DeviceSessionManager, belay_port: str, observer: Device
) -> None:
    async with belay_manager.session(belay_port) as session:
        path = await session.fs.temp(b"scratch", suffix=".txt")
        assert path in await listing(observer)
        assert session.fs.temporary_files() == [path]
        assert await session.fs.get(path) == b"scratch"
    assert path not in await listing(observer)


async def test_code_on_the_board_reads_a_file_the_host_wrote(belay_session: DeviceSession) -> None:
    path = await belay_session.fs.temp(b"21\n")

    @belay_session.task
    def double_from(name):  # type: ignore[no-untyped-def]
        with open(name) as handle:
            return 2 * int(handle.read())

    assert await double_from(path) == 42
