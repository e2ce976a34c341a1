"""``session.fs.rename``, ``touch`` and ``disk_usage`` on both virtual boards."""

from __future__ import annotations

import pytest
from session_helpers import port_of

from belay import DeviceSessionManager
from belay.errors import (
    DeviceCapabilityError,
    DeviceValueError,
    RemoteFileNotFoundError,
    RemoteFolderNotFoundError,
)

pytestmark = pytest.mark.anyio


async def test_touch_makes_an_empty_file_and_keeps_one_there(manager: DeviceSessionManager) -> None:
    async with manager.session(port_of(manager)) as session:
        await session.fs.touch("new.txt")
        assert await session.fs.get("new.txt") == b""
        await session.fs.put(b"kept", "old.txt")
        await session.fs.touch("old.txt")
        assert await session.fs.get("old.txt") == b"kept"
        with pytest.raises(DeviceValueError, match="belay's own file"):
            await session.fs.touch("belay_agent.py")


@pytest.mark.parametrize("manager", ["unix"], indirect=True)
async def test_rename_a_file_and_a_folder(manager: DeviceSessionManager) -> None:
    async with manager.session(port_of(manager)) as session:
        await session.fs.put(b"abc", "a.txt")
        await session.fs.rename("a.txt", "b.txt")
        assert await session.fs.get("b.txt") == b"abc"
        assert "a.txt" not in await session.fs.ls()
        assert await session.fs.put(b"abc", "a.txt")  # the cache did not think a.txt still there
        await session.fs.mkdir("box")
        await session.fs.rename("box", "crate")
        assert (await session.fs.stat("crate")).is_dir
        with pytest.raises(RemoteFileNotFoundError, match=r"no file 'nothing\.txt'"):
            await session.fs.rename("nothing.txt", "x.txt")
        with pytest.raises(RemoteFolderNotFoundError, match="folder 'no'"):
            await session.fs.rename("b.txt", "no/b.txt")
        with pytest.raises(DeviceValueError, match="belay's own file"):
            await session.fs.rename("b.txt", "belay_agent.py")


@pytest.mark.parametrize("manager", ["microbit"], indirect=True)
async def test_what_a_micro_bit_cannot_do_is_said(manager: DeviceSessionManager) -> None:
    async with manager.session(port_of(manager)) as session:
        await session.fs.put(b"abc", "a.txt")
        with pytest.raises(DeviceCapabilityError, match="cannot rename files"):
            await session.fs.rename("a.txt", "b.txt")
        with pytest.raises(DeviceCapabilityError, match=r"has no os\.statvfs"):
            await session.fs.disk_usage()
        assert await session.fs.get("a.txt") == b"abc"


@pytest.mark.parametrize("manager", ["unix"], indirect=True)
async def test_disk_usage(manager: DeviceSessionManager) -> None:
    async with manager.session(port_of(manager)) as session:
        usage = await session.fs.disk_usage()
        assert usage.total > usage.free > 0 and usage.used == usage.total - usage.free
