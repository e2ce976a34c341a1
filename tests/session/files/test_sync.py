"""``session.fs.sync`` on both virtual boards: only what differs by the board's own hashes goes up."""

from __future__ import annotations

from pathlib import Path

import pytest
from session_helpers import port_of

from belay import DeviceSessionManager
from belay.errors import DeviceCapabilityError, DeviceValueError
from belay.session.files.sync import SyncReport, is_excluded

pytestmark = pytest.mark.anyio


def make_tree(root: Path, files: dict[str, bytes]) -> Path:
    for path, data in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    return root


FLAT = {"main.py": b"print('hi')\n", "empty.txt": b"", "d\u00e9j\u00e0.txt": "d\u00e9j\u00e0 vu\n".encode()}
NESTED = {**FLAT, "lib/a.py": b"A = 1\n", "lib/sub/b.py": bytes(range(256)), "data/c.bin": b"\x00" * 300}


def test_excluded_paths() -> None:
    assert is_excluded("lib/__pycache__/a.pyc", ["__pycache__"])
    assert is_excluded("a.pyc", ["*.pyc"])
    assert is_excluded("build/x/y", ["build/*"])
    assert not is_excluded("lib/a.py", ["*.pyc", "build"])


async def test_sync_sends_once_then_nothing(manager: DeviceSessionManager, tmp_path: Path) -> None:
    files = NESTED if port_of(manager) == "unix" else FLAT
    local = make_tree(tmp_path, files)
    async with manager.session(port_of(manager)) as session:
        first = await session.fs.sync(local)
        assert sorted(first.uploaded) == sorted(files)
        assert first.unchanged == () and first.removed == ()
        assert first.bytes_sent == sum(len(data) for data in files.values())
        for path, data in files.items():
            assert await session.fs.get(path) == data
        again = await session.fs.sync(local)
        assert again == SyncReport(uploaded=(), removed=(), unchanged=tuple(sorted(files)), bytes_sent=0)


async def test_a_change_made_on_the_board_is_seen(manager: DeviceSessionManager, tmp_path: Path) -> None:
    local = make_tree(tmp_path, {"a.txt": b"aaaa", "b.txt": b"bbbb"})
    async with manager.session(port_of(manager)) as session:
        await session.fs.sync(local)
        # same size, other bytes, written behind fs's back (put's own cache would not know)
        await session.exec("f=open('b.txt','wb')\nf.write(b'BBBB')\nf.close()")
        report = await session.fs.sync(local)
        assert report.uploaded == ("b.txt",) and report.unchanged == ("a.txt",)
        assert await session.fs.get("b.txt") == b"bbbb"


async def test_delete_exclude_and_dry_run(manager: DeviceSessionManager, tmp_path: Path) -> None:
    local = make_tree(tmp_path, {"keep.py": b"k", "gone.py": b"g", "x.pyc": b"c"})
    async with manager.session(port_of(manager)) as session:
        first = await session.fs.sync(local, exclude=["*.pyc"])
        assert sorted(first.uploaded) == ["gone.py", "keep.py"]
        await session.fs.put(b"board's own", "log.pyc")
        (local / "gone.py").unlink()
        kept = await session.fs.sync(local, exclude=["*.pyc"])  # no delete: nothing removed
        assert kept.removed == () and kept.unchanged == ("keep.py",)
        assert "gone.py" in await session.fs.ls(refresh=True)
        dry = await session.fs.sync(local, delete=True, exclude=["*.pyc"], dry_run=True)
        assert dry.removed == ("gone.py",) and dry.dry_run
        assert "gone.py" in await session.fs.ls(refresh=True)
        done = await session.fs.sync(local, delete=True, exclude=["*.pyc"])
        assert done.removed == ("gone.py",)
        names = await session.fs.ls(refresh=True)
        assert "gone.py" not in names and "log.pyc" in names and "x.pyc" not in names
        assert "belay_agent.py" in names  # the agent's own files are never removed


@pytest.mark.parametrize("manager", ["unix"], indirect=True)
async def test_nested_folders_into_a_new_remote_folder(manager: DeviceSessionManager, tmp_path: Path) -> None:
    local = make_tree(tmp_path, NESTED)
    async with manager.session(port_of(manager)) as session:
        report = await session.fs.sync(local, "app/v1")
        # every folder made, the missing parents of the target too (app was made, unreported)
        assert report.folders_made == ("app", "app/v1", "app/v1/data", "app/v1/lib", "app/v1/lib/sub")
        assert await session.fs.get("app/v1/lib/sub/b.py") == bytes(range(256))
        (local / "lib" / "sub" / "b.py").unlink()
        (local / "lib" / "sub").rmdir()
        (local / "lib" / "new.py").write_bytes(b"new")
        report = await session.fs.sync(local, "app/v1", delete=True)
        assert report.uploaded == ("app/v1/lib/new.py",)
        assert report.removed == ("app/v1/lib/sub/b.py", "app/v1/lib/sub")
        assert [entry.path for entry in await session.fs.tree("app/v1/lib")] == [
            "app/v1/lib/a.py",
            "app/v1/lib/new.py",
        ]


@pytest.mark.parametrize("manager", ["unix"], indirect=True)
async def test_a_file_where_a_folder_goes(manager: DeviceSessionManager, tmp_path: Path) -> None:
    local = make_tree(tmp_path, {"lib/a.py": b"a"})
    async with manager.session(port_of(manager)) as session:
        await session.fs.put(b"in the way", "lib")
        with pytest.raises(DeviceValueError, match="'lib' is a file on the board but a folder here"):
            await session.fs.sync(local)
        assert await session.fs.get("lib") == b"in the way"  # refused before anything changed
        report = await session.fs.sync(local, delete=True)
        assert report.uploaded == ("lib/a.py",) and "lib" in report.removed
        assert await session.fs.get("lib/a.py") == b"a"


@pytest.mark.parametrize("manager", ["microbit"], indirect=True)
async def test_folders_are_refused_on_a_flat_board(manager: DeviceSessionManager, tmp_path: Path) -> None:
    local = make_tree(tmp_path, {"top.py": b"t", "lib/a.py": b"a"})
    async with manager.session(port_of(manager)) as session:
        with pytest.raises(DeviceCapabilityError, match="flat filesystem: folders are refused there"):
            await session.fs.sync(local)
        with pytest.raises(DeviceCapabilityError, match="folder 'app'"):
            await session.fs.sync(local / "lib", "app")
        assert "top.py" not in await session.fs.ls(refresh=True)  # nothing half-done


async def test_what_no_board_wants_is_left_out_and_reported(
    manager: DeviceSessionManager, tmp_path: Path
) -> None:
    tree = {"main.py": b"m", ".git/HEAD": b"ref", "__pycache__/m.pyc": b"\0", ".venv/pyvenv.cfg": b""}
    local = make_tree(tmp_path, {**tree, ".belayignore": b"secret.txt\n", "secret.txt": b"s"})
    (local / "dangling.txt").symlink_to("nowhere")
    (local / "loop").symlink_to("loop")
    async with manager.session(port_of(manager)) as session:
        await session.fs.put(b"board's", "secret.txt")
        report = await session.fs.sync(local, delete=True)  # before: KeyError 'git'
        assert report.uploaded == ("main.py",)
        assert {entry.path for entry in report.skipped} == {
            ".belayignore",
            ".git",
            ".venv",
            "__pycache__",
            "dangling.txt",
            "loop",
            "secret.txt",
        }
        assert await session.fs.get("secret.txt") == b"board's"  # left out: neither sent nor removed
        names = await session.fs.ls()
        assert ".git" not in names and "__pycache__" not in names
        again = await session.fs.sync(local, include=["secret.txt"])
        assert again.uploaded == ("secret.txt",) and await session.fs.get("secret.txt") == b"s"


async def test_a_put_to_a_folder_path_is_refused(manager: DeviceSessionManager) -> None:
    async with manager.session(port_of(manager)) as session:
        with pytest.raises(DeviceValueError, match="'lib/' names a folder"):
            await session.fs.put(b"data", "lib/")  # before: wrote a file named lib
        assert "lib" not in await session.fs.ls()
