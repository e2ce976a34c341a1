"""Trees, hashes and folders on both virtual boards (``session.fs.tree``, ``hash``, ``stat``,
``mkdir``, ``rmdir``, ``rm_tree``), the board's hashes checked against the host's."""

from __future__ import annotations

import hashlib

import pytest
from session_helpers import observer, port_of

from belay import DeviceSessionManager
from belay.agent import calls
from belay.errors import DeviceCapabilityError, DeviceValueError, RemoteFileNotFoundError
from belay.session.files.tree import (
    FileStat,
    RemoteFileExistsError,
    RemoteFolderNotFoundError,
    TreeEntry,
    fnv1a32,
    local_hash,
)

pytestmark = pytest.mark.anyio

DATA = bytes(range(256)) * 2 + b"tail"  # every byte value, more than one 64-byte read


def test_fnv1a32_known_values() -> None:
    assert fnv1a32(b"") == 0x811C9DC5
    assert fnv1a32(b"a") == 0xE40C292C
    assert fnv1a32(b"foobar") == 0xBF9CF968


def test_the_walk_is_cut_into_small_calls_for_small_heaps() -> None:
    *pieces, walk = calls.file_tree("", {}, "fnv1a32", 8, roomy=False, sha256=False)
    assert len(pieces) >= 3 and max(len(piece) for piece in pieces) < 700
    assert "del _ba_t" in walk
    (whole,) = calls.file_tree("/r", {"lib": "0123456789abcdef"}, "sha256", 16, roomy=True)
    assert "hashlib" in whole and "'lib        '[:3]" in whole  # short names not interned


async def test_hashes_match_the_hosts(manager: DeviceSessionManager) -> None:
    async with manager.session(port_of(manager)) as session:
        await session.fs.put(DATA, "data.bin")
        await session.fs.put(b"", "empty.bin")
        await session.fs.put("\u00e9t\u00e9".encode(), "\u00e9t\u00e9.txt")
        algorithm = "sha256" if port_of(manager) == "unix" else "fnv1a32"
        assert await session.fs.hash("data.bin") == f"{algorithm}:{local_hash(DATA, algorithm)}"
        assert await session.fs.hash("empty.bin") == f"{algorithm}:{local_hash(b'', algorithm)}"
        if algorithm == "sha256":
            assert await session.fs.hash("data.bin") == "sha256:" + hashlib.sha256(DATA).hexdigest()
        entries = {entry.path: entry for entry in await session.fs.tree()}
        assert entries["data.bin"] == TreeEntry(
            "data.bin", len(DATA), False, await session.fs.hash("data.bin")
        )
        assert entries["\u00e9t\u00e9.txt"].size == 5
        assert await session.fs.stat("data.bin") == FileStat("data.bin", len(DATA), False)
        assert (await session.fs.stat("")).is_dir


async def test_missing_paths_say_what_is_missing(manager: DeviceSessionManager) -> None:
    async with manager.session(port_of(manager)) as session:
        names = set(await observer(manager).eval("list(globals())"))
        with pytest.raises(RemoteFileNotFoundError, match=r"no file 'nope\.txt'"):
            await session.fs.hash("nope.txt")
        with pytest.raises(RemoteFileNotFoundError, match=r"no file 'nope\.txt'"):
            await session.fs.stat("nope.txt")
        with pytest.raises(RemoteFolderNotFoundError, match="folder 'sub/dir' does not exist on the board"):
            await session.fs.stat("sub/dir/file.txt")
        await session.fs.tree()
        assert set(await observer(manager).eval("list(globals())")) == names  # the walk leaves no names


@pytest.mark.parametrize("manager", ["unix"], indirect=True)
async def test_folders(manager: DeviceSessionManager) -> None:
    async with manager.session(port_of(manager)) as session:
        with pytest.raises(RemoteFolderNotFoundError, match="folder 'a/b' does not exist on the board"):
            await session.fs.mkdir("a/b/c")
        await session.fs.mkdir("a/b/c", parents=True)
        with pytest.raises(RemoteFileExistsError, match="'a/b/c' already exists"):
            await session.fs.mkdir("a/b/c")
        await session.fs.mkdir("a/b/c", exist_ok=True)
        assert await session.fs.stat("a/b") == FileStat("a/b", (await session.fs.stat("a/b")).size, True)
        await session.fs.put(b"x", "a/b/c/x.txt")
        await session.fs.put(b"y", "a/y.txt")
        assert [(e.path, e.is_dir) for e in await session.fs.tree("a")] == [
            ("a/b", True), ("a/b/c", True), ("a/b/c/x.txt", False), ("a/y.txt", False),
        ]  # fmt: skip
        assert "b" in await session.fs.ls("a")
        with pytest.raises(DeviceValueError, match="folder 'a' on the board at unix is not empty"):
            await session.fs.rmdir("a")
        await session.fs.rm_tree("a/b")
        assert await session.fs.ls("a") == ["y.txt"]  # the listing cache saw the removal
        await session.fs.rm_tree("a")
        with pytest.raises(RemoteFileNotFoundError):
            await session.fs.stat("a")
        await session.fs.mkdir("empty")
        await session.fs.rmdir("empty")
        assert "empty" not in await session.fs.ls()


@pytest.mark.parametrize("manager", ["microbit"], indirect=True)
async def test_a_flat_board_refuses_folders(manager: DeviceSessionManager) -> None:
    async with manager.session(port_of(manager)) as session:
        with pytest.raises(DeviceCapabilityError, match="flat filesystem"):
            await session.fs.mkdir("lib")
        with pytest.raises(DeviceCapabilityError, match="flat filesystem"):
            await session.fs.rmdir("lib")
        await session.fs.put(b"gone", "gone.txt")
        await session.fs.rm_tree("gone.txt")  # a file: removed as rm does
        assert "gone.txt" not in await session.fs.ls(refresh=True)
