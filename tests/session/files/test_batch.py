"""Many small files in few calls (``session.fs.put_many``, and the sync and ``fs cp -r`` on it):
each file whole or not there, on the real boards, a refused batch naming the file, a cancelled
one leaving nothing of itself."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
import pytest
from session_helpers import observer, port_of

from belay import DeviceSessionManager
from belay.device import Device
from belay.errors import BoardFileError, DeviceValueError
from belay.session.files.writes import TEMP_PREFIX

pytestmark = pytest.mark.anyio


def project(files: int, seed: int = 1) -> dict[str, bytes]:
    """A project's small files in folders, with unicode and spaced names, an empty file,
    incompressible bytes and one file larger than a batch takes."""
    noise = random.Random(seed)
    tree: dict[str, bytes] = {}
    for number in range(files):
        folder = ("", "lib", "lib/drivers", "données")[number % 4]
        body = "".join(f"VALUE_{number}_{line} = {line * number}\n" for line in range(5 + number % 30))
        tree[f"{folder}/m {number:03d}.py".lstrip("/")] = body.encode()
    tree["lib/empty.py"] = b""
    tree["data/noise.bin"] = noise.randbytes(3000)
    tree["data/every byte.bin"] = bytes(range(256)) * 4
    tree["big.bin"] = noise.randbytes(300_000)
    return tree


def write_local(root: Path, tree: dict[str, bytes]) -> Path:
    for path, data in tree.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_bytes(data)
    return root


@contextmanager
def counted_calls(device: Device) -> Iterator[list[int]]:
    """How many raw-REPL calls the host makes inside the block (one list item each)."""
    made: list[int] = []
    original = device.call

    async def call(code: str | bytes, **options: object) -> object:
        made.append(len(code))
        return await original(code, **options)  # type: ignore[arg-type]

    device.call = call  # type: ignore[method-assign]
    try:
        yield made
    finally:
        del device.call


async def leftovers(session: object, folders: list[str]) -> list[str]:
    found = []
    for folder in folders:
        names = await session.fs.ls(folder)  # type: ignore[attr-defined]
        found += [f"{folder}/{name}" for name in names if name.startswith(TEMP_PREFIX)]
    return found


async def test_a_project_of_small_files_goes_up_in_few_calls_each_file_whole(
    manager: DeviceSessionManager, tmp_path: Path
) -> None:
    port = port_of(manager)
    tree = project(120) if port == "unix" else {f"m{n}.py": f"V = {n}\n".encode() * n for n in range(8)}
    local = write_local(tmp_path, tree)
    target = "app" if port == "unix" else ""  # the micro:bit's filesystem is flat
    async with manager.session(port) as session:
        with counted_calls(observer(manager)) as made:
            report = await session.fs.sync(local, target)
        assert sorted(report.uploaded) == sorted(f"{target}/{path}".lstrip("/") for path in tree)
        if port == "unix":  # renames and has room: batches; 124 files took 124+ calls before
            assert len(made) < 20, made
        for path, data in tree.items():
            assert await session.fs.get(f"{target}/{path}".lstrip("/")) == data, path
        folders = ["app", "app/lib", "app/lib/drivers", "app/données", "app/data"] if port == "unix" else [""]
        assert await leftovers(session, folders) == []
        again = await session.fs.sync(local, target)
        assert again.uploaded == () and len(again.unchanged) == len(tree)


async def test_put_many_writes_whatever_the_board_holds_and_reports_each_file(
    manager: DeviceSessionManager,
) -> None:
    files = [(f"file {n}".encode() * n, f"pm{n}.txt") for n in range(6)]
    files.insert(2, (bytes(range(256)) * 12, "pm-large.bin"))  # alone in its call where batches go
    sent: list[tuple[str, int]] = []
    async with manager.session(port_of(manager)) as session:
        await session.fs.put(b"old", "pm1.txt")
        await session.exec("f=open('pm2.txt','wb')\nf.write(b'behind its back')\nf.close()")
        await session.fs.put_many(files, sent=lambda path, size: sent.append((path, size)))
        assert sent == [(path, len(data)) for data, path in files]  # in the order given
        for data, path in files:
            assert await session.fs.get(path) == data
        assert await session.fs.put(files[3][0], files[3][1]) is False  # its hash is known
        with pytest.raises(DeviceValueError, match="absolute"):
            await session.fs.put_many([(b"x", "/etc/x")])


async def test_a_refused_batch_names_the_file_and_leaves_no_partial_one(
    manager: DeviceSessionManager,
) -> None:
    if port_of(manager) != "unix":
        pytest.skip("the micro:bit has no folders to stand where a file goes")
    files = [(f"{n}".encode() * 100, f"rb/f{n}.txt") for n in range(6)]
    async with manager.session(port_of(manager)) as session:
        await session.fs.mkdir("rb/f3.txt", parents=True)  # a folder where file 3 goes
        with pytest.raises(BoardFileError, match=r"rb/f3\.txt"):
            await session.fs.put_many(files)
        for data, path in files[:3]:
            assert await session.fs.get(path) == data
        assert sorted(await session.fs.ls("rb")) == ["f0.txt", "f1.txt", "f2.txt", "f3.txt"]
        assert await leftovers(session, ["rb"]) == []


async def test_names_a_batch_cannot_carry_go_one_by_one(manager: DeviceSessionManager) -> None:
    if port_of(manager) != "unix":
        pytest.skip("the micro:bit's names are plain")
    files = [(b"a", "nl/one\ntwo.txt"), (b"b", "nl/plain.txt"), (b"c", "nl/d\u00e9j\u00e0 \U0001f600.txt")]
    async with manager.session(port_of(manager)) as session:
        await session.fs.mkdir("nl")
        await session.fs.put_many(files)
        for data, path in files:
            assert await session.fs.get(path) == data
        assert await leftovers(session, ["nl"]) == []


async def test_a_cancelled_batch_leaves_each_file_whole_or_not_there(tmp_path: Path) -> None:
    """On the 115200-baud line the batch's call takes seconds: cancelled inside it, the board
    keeps no temporary file and no partial file; the session goes on."""
    noise = random.Random(7)
    files = [(noise.randbytes(700), f"cb/f{n:02d}.bin") for n in range(30)]  # ~21 KB, incompressible
    async with DeviceSessionManager() as manager, manager.session("unix?baud=115200") as session:
        await session.fs.mkdir("cb")
        with anyio.move_on_after(0.8) as scope:
            await session.fs.put_many(files)
        assert scope.cancelled_caught
        names = await session.fs.ls("cb")
        assert [name for name in names if name.startswith(TEMP_PREFIX)] == []
        written = {path: data for data, path in files if path.rpartition("/")[2] in names}
        assert len(written) < len(files)
        for path, data in written.items():
            assert await session.fs.get(path) == data
        await session.fs.put_many(files[:3])
        assert await session.fs.get(files[2][1]) == files[2][0]
