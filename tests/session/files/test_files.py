"""``session.fs`` on both virtual boards, checked through the board's raw device where it matters."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from session_helpers import observer, port_of, writes_to

from belay import DeviceSessionManager
from belay.device import Device
from belay.errors import DeviceCapabilityError, DeviceExecError, DeviceValueError
from belay.session.files.facade import CHUNK, RemoteFileNotFoundError, check_path

pytestmark = pytest.mark.anyio
BOTH_APIS = True  # the session tests run through the blocking API too (tests/blocking_adapter.py)

# ~300 bytes (the micro:bit's flash is small), every byte value, more than one chunk
DATA = bytes(range(256)) + b"\x00\x04\xff" * 15


async def board_listing(device: Device) -> list[str]:
    return sorted(await device.eval("__import__('os').listdir()"))


async def board_read(device: Device, path: str) -> bytes:
    """The file's bytes, read behind ``fs``'s back in pieces the micro:bit's heap can repr."""
    await device.exec(f"_t=open({path!r},'rb')")
    try:
        parts = []
        while part := await device.eval("_t.read(64)"):
            parts.append(bytes(part))
    finally:
        await device.exec("_t.close()\ndel _t")
    return b"".join(parts)


# --- paths (no board) ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["../x", "a/../../x", "a/..", "..\\x", "/x", "/", "\\x", "C:x", "", "./", "a\x00"]
)
def test_paths_outside_the_root_are_refused(path: str) -> None:
    with pytest.raises(DeviceValueError):
        check_path(path)


def test_relative_paths_are_normalised_and_allow_outside_lets_them_through() -> None:
    assert check_path("a//b/./c") == "a/b/c"
    assert check_path("./x.bin") == "x.bin"
    assert check_path("", allow_root=True) == ""
    assert check_path("/flash/x", allow_outside=True) == "/flash/x"
    assert check_path("../x", allow_outside=True) == "../x"


# --- on the boards -------------------------------------------------------------------------


async def test_binary_round_trip(manager: DeviceSessionManager, tmp_path: Path) -> None:
    async with manager.session(port_of(manager)) as session:
        device = observer(manager)
        assert await session.fs.put(DATA, "blob.bin") is True
        assert await session.fs.get("blob.bin") == DATA
        assert await board_read(device, "blob.bin") == DATA  # as the board itself sees it
        exact = DATA[: 2 * CHUNK]  # a whole number of chunks
        assert await session.fs.put(exact, "exact.bin") is True
        assert await session.fs.get("exact.bin") == exact
        assert await session.fs.put(b"", "empty.bin") is True
        assert await session.fs.get("empty.bin") == b""
        local = tmp_path / "local.txt"
        local.write_bytes(b"\x00\x04\xff from a local file\n")
        assert await session.fs.put(local) is True  # named after the local file
        assert await session.fs.get("local.txt") == local.read_bytes()
        for name in ("blob.bin", "exact.bin", "empty.bin", "local.txt"):
            await session.fs.rm(name)
        assert session.resources.files() == []  # none of them was temporary
    assert not {"blob.bin", "exact.bin", "empty.bin", "local.txt"} & set(await board_listing(device))


async def test_unchanged_upload_is_skipped_and_a_changed_one_is_not(manager: DeviceSessionManager) -> None:
    async with manager.session(port_of(manager)) as session:
        device = observer(manager)
        with writes_to(device) as sent:
            assert await session.fs.put(DATA, "same.bin") is True
        first = sum(map(len, sent))
        assert first > len(DATA)
        with writes_to(device) as sent:
            assert await session.fs.put(DATA, "same.bin") is False
        assert sum(map(len, sent)) < len(DATA) // 2  # one size check, no data
        changed = DATA[:-1] + b"\x00"
        with writes_to(device) as sent:
            assert await session.fs.put(changed, "same.bin") is True
        assert sum(map(len, sent)) > len(DATA)
        assert await board_read(device, "same.bin") == changed
    async with manager.session(port_of(manager)) as later:  # the cache is the board's, not the session's
        assert await later.fs.put(changed, "same.bin") is False
        await device.exec("__import__('os').remove('same.bin')")  # behind fs's back
        assert await later.fs.put(changed, "same.bin") is True  # the size check notices
        assert await board_read(device, "same.bin") == changed
        await later.fs.rm("same.bin")


async def test_listing_is_never_stale(manager: DeviceSessionManager) -> None:
    port = port_of(manager)
    async with manager.session(port) as session:
        device = observer(manager)
        before = await session.fs.ls()
        assert before == await board_listing(device)
        assert "listed.bin" not in before
        await session.fs.put(b"\x00\x04\xff", "listed.bin")
        assert await session.fs.ls() == sorted([*before, "listed.bin"])
        await session.fs.rm("listed.bin")
        assert await session.fs.ls() == before
        await session.exec("_t=open('aside.bin','wb')\n_t.write(b'x')\n_t.close()\ndel _t")  # around fs
        assert "aside.bin" in await session.fs.ls()  # no refresh=True needed
        assert "aside.bin" in await session.fs.ls(refresh=False)  # accepted, ignored
    async with manager.session(port) as later:
        await later.exec("__import__('os').remove('aside.bin')")
        assert "aside.bin" not in await later.fs.ls()  # nor in a new session
        assert await later.fs.ls() == before


async def test_temporary_files_are_gone_after_the_session(manager: DeviceSessionManager) -> None:
    port = port_of(manager)
    async with manager.session(port) as session:
        device = observer(manager)
        scratch = await session.fs.temp(DATA, suffix=".bin")
        assert session.session_id in scratch and scratch.endswith(".bin")
        assert await session.fs.put(b"\x00\x04\xff", "temporary.bin", temporary=True) is True
        assert await session.fs.put(b"kept", "kept.bin") is True
        assert await session.fs.get(scratch) == DATA
        assert sorted(session.resources.files()) == sorted([scratch, "temporary.bin"])
        assert session.fs.temporary_files() == sorted([scratch, "temporary.bin"])
        record = await session.board_stats()
        assert sorted(record["files"]) == sorted([scratch, "temporary.bin"])  # the agent's own records
        assert {scratch, "temporary.bin", "kept.bin"} <= set(await board_listing(device))
    listing = await board_listing(device)
    assert scratch not in listing and "temporary.bin" not in listing
    assert "kept.bin" in listing  # put() without temporary=True stays
    async with manager.session(port) as other:
        assert scratch not in await other.fs.ls()  # the ended session's temp files left the cache too
        await other.fs.rm("kept.bin")


async def test_temp_files_removed_or_kept_early_do_not_fail_the_end(
    manager: DeviceSessionManager,
) -> None:
    async with manager.session(port_of(manager)) as session:
        device = observer(manager)
        gone = await session.fs.temp(b"\x00\x04\xff")
        kept = await session.fs.temp(b"\x00\x04\xff")
        await session.fs.rm(gone)  # the agent forgets it: its end() does not miss it
        assert await session.fs.put(b"now kept", kept) is True  # rewritten to stay
        assert session.resources.files() == []
    assert gone not in await board_listing(device)
    assert await board_read(device, kept) == b"now kept"
    await device.exec(f"__import__('os').remove({kept!r})")


async def test_paths_outside_the_root_are_refused_before_sending(
    manager: DeviceSessionManager,
) -> None:
    async with manager.session(port_of(manager)) as session:
        device = observer(manager)
        with writes_to(device) as sent:
            for bad in ("../escape.bin", "/escape.bin", "a/../../escape.bin"):
                with pytest.raises(DeviceValueError, match="allow_outside"):
                    await session.fs.put(b"x", bad)
                with pytest.raises(DeviceValueError):
                    await session.fs.get(bad)
                with pytest.raises(DeviceValueError):
                    await session.fs.rm(bad)
            with pytest.raises(DeviceValueError):
                await session.fs.ls("..")
            with pytest.raises(DeviceValueError):
                await session.fs.temp(b"x", suffix="/../x")
        assert sent == []


async def test_missing_files_give_a_clear_error(manager: DeviceSessionManager) -> None:
    port = port_of(manager)
    async with manager.session(port) as session:
        with pytest.raises(
            RemoteFileNotFoundError, match=r"no file 'missing\.bin' on the board at"
        ) as caught:
            await session.fs.rm("missing.bin")
        assert caught.value.path == "missing.bin" and caught.value.port == port
        assert isinstance(caught.value, FileNotFoundError) and isinstance(caught.value, DeviceExecError)
        with pytest.raises(RemoteFileNotFoundError, match="missing"):
            await session.fs.get("missing.bin")
        assert await session.eval("1 + 1") == 2  # the session is still usable


async def test_two_sessions_write_at_once_without_mixing_their_chunks(manager: DeviceSessionManager) -> None:
    port = port_of(manager)
    first, second = DATA, bytes(reversed(DATA))
    async with manager.session(port) as one, manager.session(port) as two:
        async with anyio.create_task_group() as group:
            group.start_soon(one.fs.put, first, "one.bin")
            group.start_soon(two.fs.put, second, "two.bin")
        assert await two.fs.get("one.bin") == first
        assert await one.fs.get("two.bin") == second
        await one.fs.rm("one.bin")
        await two.fs.rm("two.bin")
        if port == "microbit":
            with pytest.raises(DeviceCapabilityError):
                await one.fs.ls("sub")
