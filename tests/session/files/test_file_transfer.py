"""Moving files: every encoding both ways on both boards, atomic puts, and clear refusals.

The encodings are pure functions tested here without a board; everything else runs on the
real virtual boards. Paths are forced where a board would not choose them by itself (the
small-heap literal on the unix board, ``repr`` down on either) by changing what the host
knows of the board, never what the board does.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import random
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from session_helpers import observer, port_of

from belay import DeviceSessionManager, SessionOptions, heap
from belay.device import Device
from belay.errors import DeviceExecError
from belay.protocol import codec as file_codec
from belay.session.files import transfer
from belay.session.files.facade import BoardFileError
from belay.session.files.writes import TEMP_PREFIX

pytestmark = pytest.mark.anyio

EVERY_BYTE = bytes(range(256))
TRICKY = [
    b"",
    b"'",
    b"''",
    b"'''",
    b"\\",
    b"\\'",
    b"a\\",
    b"\xfe",
    b"\xfe\x7e",
    b"\x04",
    b"\r\n",
    b"\x00" * 3,
]
SOURCE = b"".join(path.read_bytes() for path in sorted(Path(transfer.__file__).parent.glob("*.py")))


def board_names(listing: list[str]) -> list[str]:
    return [name for name in listing if name.startswith(TEMP_PREFIX)]


async def board_bytes(device: Device, path: str) -> bytes:
    """A file's bytes, read behind ``fs``'s back in pieces the micro:bit's heap can repr."""
    await device.exec(f"_t=open({path!r},'rb')")
    try:
        parts = []
        while part := await device.eval("_t.read(64)"):
            parts.append(bytes(part))
    finally:
        await device.exec("_t.close()\ndel _t")
    return b"".join(parts)


# --- the encodings (no board) -------------------------------------------------------------


@pytest.mark.parametrize("data", [EVERY_BYTE, EVERY_BYTE[::-1] * 3, os.urandom(4096), *TRICKY])
def test_raw_literal_bodies_hold_no_byte_the_raw_repl_or_lexer_would_take(data: bytes) -> None:
    literal = file_codec.raw_literal(data)
    body = literal[len(b"rb'''") : -3]
    assert file_codec.undo_raw(body) == data
    forbidden = set(range(0x00, 0x06)) | {0x0D}  # what the raw REPL acts on; what the lexer turns into \n
    assert not forbidden & set(body)
    escaped = forbidden | {0xFE, ord("'")}  # each escape adds one byte; a backslash only when last
    assert len(body) - len(data) <= sum(data.count(byte) for byte in escaped) + 1
    assert b"'''" not in body and not body.endswith((b"'", b"\\"))


@pytest.mark.parametrize("data", [EVERY_BYTE, *TRICKY])
def test_python_literals_read_back_as_the_bytes(data: bytes) -> None:
    literal = file_codec.python_literal(data)
    ascii_only = literal.decode("latin-1").encode("ascii", "backslashreplace")  # CPython wants ASCII
    assert eval(ascii_only) == data  # our own literal, read by CPython's parser


def test_the_down_stream_is_read_in_any_split() -> None:
    data = EVERY_BYTE * 3 + b"\xfe\x04\xfe"
    stream = data.replace(b"\xfe", b"\xfe\x7e").replace(b"\x04", b"\xfe\x84") + b"\xfeE%d\r\n" % len(data)
    for size in (1, 2, 3, 7, len(stream)):
        decoder = file_codec.DownDecoder()
        for start in range(0, len(stream), size):
            decoder.feed(stream[start : start + size])
        assert decoder.result() == data


@pytest.mark.parametrize("cut", [5, 300, -3])
def test_a_cut_down_stream_is_refused(cut: int) -> None:
    data = EVERY_BYTE * 2
    stream = data.replace(b"\xfe", b"\xfe\x7e").replace(b"\x04", b"\xfe\x84") + b"\xfeE%d" % len(data)
    decoder = file_codec.DownDecoder()
    decoder.feed(stream[:cut])
    with pytest.raises(ValueError, match="ended after"):
        decoder.result()


def test_source_compresses_and_random_bytes_do_not() -> None:
    assert file_codec.worth_compressing(SOURCE[:32768], file_codec.compressed(SOURCE[:32768], 15))
    noise = os.urandom(32768)
    assert not file_codec.worth_compressing(noise, file_codec.compressed(noise, 15))


# --- every path on the boards -----------------------------------------------------------


@contextlib.contextmanager
def forced(manager: DeviceSessionManager, **changes: object) -> Iterator[None]:
    """The board's transfer features as the host knows them, changed for the block."""
    board = manager.board(port_of(manager))
    assert board is not None
    known = board.files
    saved = known.features
    assert saved is not None
    known.features = dataclasses.replace(saved, **changes)
    try:
        yield
    finally:
        known.features = saved


async def test_every_byte_value_and_edge_both_ways_on_every_path(
    manager: DeviceSessionManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = port_of(manager)
    payloads = [EVERY_BYTE * 4, b"", *TRICKY[1:], EVERY_BYTE[::-1] + b"'"]
    async with manager.session(port) as session:
        device = observer(manager)
        await session.fs.ls()
        await session.fs.get(await session.fs.temp(b"x"))  # the board's features are known now
        paths = [{}, {"writer": 0}]  # raw down, repr down
        if port == "unix":
            paths += [{"deflate": False}]
        for change in paths:
            with forced(manager, **change):
                for data in payloads:
                    assert await session.fs.put(data, "every.bin") in (True, False)
                    assert await session.fs.get("every.bin") == data, change
                    assert await board_bytes(device, "every.bin") == data
        if port == "unix":  # the small-heap literal, as the micro:bit gets it
            monkeypatch.setattr(heap, "ROOMY_TRANSFERS_FROM", 1 << 40)
            for data in payloads:
                await session.fs.put(data + b"!", "every.bin")
                assert await board_bytes(device, "every.bin") == data + b"!"
        await session.fs.rm("every.bin")
        assert board_names(await session.fs.ls()) == []


async def test_compressed_source_and_incompressible_bytes_larger_than_a_chunk(
    manager: DeviceSessionManager,
) -> None:
    port = port_of(manager)
    size = 3 * 1024 if port == "microbit" else 200 * 1024
    source = (SOURCE * (1 + size // len(SOURCE)))[:size]
    async with manager.session(port) as session:
        for data in (source, os.urandom(size)):
            await session.fs.put(data, "big.bin")
            assert await session.fs.get("big.bin") == data
        await session.fs.rm("big.bin")


async def test_a_file_larger_than_the_boards_free_heap_under_a_unicode_name(
    manager: DeviceSessionManager, tmp_path: Path
) -> None:
    port = port_of(manager)
    async with manager.session(port) as session:
        free = session.capabilities.mem_free
        data = os.urandom(free + 1024) if port == "microbit" else (SOURCE * (1 + 3 * free // len(SOURCE)))
        name = "dätä-✓.bin"
        await session.fs.put(data, name)
        assert name in await session.fs.ls()
        local = tmp_path / "copy.bin"
        assert await session.fs.get(name, to=local) == data
        assert local.read_bytes() == data
        await session.fs.rm(name)


@pytest.mark.microbit
async def test_the_microbit_moves_8_kb_both_ways_after_three_sessions() -> None:
    data = os.urandom(8 * 1024)
    async with DeviceSessionManager(SessionOptions()) as manager:
        for round_ in range(3):
            async with manager.session("microbit") as session:
                await session.exec(f"x = [{round_}] * 20")
                await session.fs.put(b"warm" * 50, "warm.bin")
                assert await session.fs.get("warm.bin") == b"warm" * 50
        async with manager.session("microbit") as session:
            await session.fs.put(data, "eight.bin")
            assert await session.fs.get("eight.bin") == data
            await session.fs.put(data[::-1], "eight.bin")  # no room for two copies: written in place
            assert await session.fs.get("eight.bin") == data[::-1]
            await session.fs.rm("eight.bin")
            await session.fs.rm("warm.bin")


@pytest.mark.microbit
async def test_a_microbit_put_over_4_kb_cancelled_leaves_the_old_file_or_the_new() -> None:
    """Beyond the 2 KB a call carries, through parts and a copy that cannot be interrupted."""
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    old, new = os.urandom(4096), os.urandom(4096)
    async with DeviceSessionManager(SessionOptions()) as manager, manager.session("microbit") as session:
        await session.fs.put(old, "atomic4k.bin")
        for attempt in range(3):
            with anyio.move_on_after(rng.uniform(0.2, 2.5)) as scope:
                await session.fs.put(new, "atomic4k.bin")
            got = await session.fs.get("atomic4k.bin")
            assert got in (old, new), f"seed {seed}, attempt {attempt}, cancelled: {scope.cancelled_caught}"
            assert scope.cancelled_caught or got == new
            old, new = got, os.urandom(4096)
        assert board_names(await session.fs.ls()) == []
        await session.fs.rm("atomic4k.bin")


async def test_a_failed_get_to_a_local_file_leaves_it_as_it_was(
    manager: DeviceSessionManager, tmp_path: Path
) -> None:
    local = tmp_path / "kept.txt"
    local.write_bytes(b"old")
    async with manager.session(port_of(manager)) as session:
        with pytest.raises(FileNotFoundError):
            await session.fs.get("not-there.bin", to=local)
    assert local.read_bytes() == b"old"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["kept.txt"]


# --- atomic: interrupted puts leave the old file ------------------------------------------


async def test_a_put_cancelled_at_random_points_leaves_the_old_file(manager: DeviceSessionManager) -> None:
    port = port_of(manager)
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    old = b"old content\n" * 10
    slow = "unix?baud=115200" if port == "unix" else port
    new = os.urandom(24 * 1024 if port == "unix" else 1500)
    longest = 2.2 if port == "unix" else 0.7
    async with DeviceSessionManager(SessionOptions()) as own, own.session(slow) as session:
        await session.fs.put(old, "atomic.bin")
        for attempt in range(6 if port == "unix" else 3):
            with anyio.move_on_after(rng.uniform(0.01, longest)) as scope:
                await session.fs.put(new, "atomic.bin")
            got = await session.fs.get("atomic.bin")
            detail = f"seed {seed}, attempt {attempt}, cancelled: {scope.cancelled_caught}"
            if scope.cancelled_caught:
                assert got in (old, new), detail  # cancelled before its rename, or after
            else:
                assert got == new, detail
            if got == new:
                await session.fs.put(old, "atomic.bin")
            assert board_names(await session.fs.ls()) == [], detail
            assert await session.eval("1 + 1") == 2
        await session.fs.rm("atomic.bin")


HOST_SCRIPT = """
import anyio, os, sys
from belay import DeviceSessionManager, SessionOptions

async def main():
    async with DeviceSessionManager(SessionOptions(lease=1.0)) as manager:
        async with manager.session(sys.argv[1]) as session:
            print("putting", flush=True)
            await session.fs.put(os.urandom(64 * 1024), "killed.bin")
            print("finished", flush=True)

anyio.run(main)
"""


@pytest.fixture
def slow_served_board() -> Iterator[str]:
    """A unix board behind a 115200-baud line, served on a pty by a process of its own."""
    command = [sys.executable, "-m", "belay", "virtual-board", "--kind", "unix", "--baud", "115200"]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        yield server.stdout.readline().strip()
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def start_host(script: Path, port: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(script), port], stdout=subprocess.PIPE, text=True)


async def test_a_host_killed_mid_put_leaves_the_old_file_and_its_temp_is_reaped(
    slow_served_board: str, tmp_path: Path
) -> None:
    async with (
        DeviceSessionManager(SessionOptions()) as manager,
        manager.session(slow_served_board) as session,
    ):
        await session.fs.put(b"old", "killed.bin")
    script = tmp_path / "host.py"
    script.write_text(textwrap.dedent(HOST_SCRIPT))
    host = start_host(script, slow_served_board)
    try:
        assert host.stdout is not None
        assert host.stdout.readline().strip() == "putting"
        await anyio.sleep(2.0)  # well into the put's ~6 s
    finally:
        host.kill()
        host.wait()
    await anyio.sleep(1.5)  # past the dead host's 1 s lease
    async with (
        DeviceSessionManager(SessionOptions()) as manager,
        manager.session(slow_served_board) as session,
    ):
        for _ in range(50):  # the reaper (or this session's begin) removes it
            if not board_names(await session.fs.ls()):
                break
            await anyio.sleep(0.2)
        assert board_names(await session.fs.ls()) == []
        assert await session.fs.get("killed.bin") == b"old"
        await session.fs.rm("killed.bin")


# --- refusals -----------------------------------------------------------------------------


@pytest.fixture
def small_filesystem(tmp_path: Path) -> Iterator[Path]:
    """A 64 KB tmpfs (needs root and mount; skips where there is neither)."""
    where = tmp_path / "small"
    where.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(where)], capture_output=True
    )
    if made.returncode:
        pytest.skip(f"cannot mount a small tmpfs here: {made.stderr.decode(errors='replace').strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


async def test_a_full_filesystem_is_a_clear_error_and_leaves_the_old_file(small_filesystem: Path) -> None:
    target = f"{small_filesystem}/full.bin"
    async with DeviceSessionManager(SessionOptions()) as manager, manager.session("unix") as session:
        await session.fs.put(b"old" * 1000, target, allow_outside=True)
        with pytest.raises(BoardFileError) as caught:
            await session.fs.put(os.urandom(80 * 1024), target, allow_outside=True)
        assert caught.value.errno == 28 and caught.value.port == "unix" and caught.value.path == target
        assert "full" in str(caught.value) and target in str(caught.value) and "unix" in str(caught.value)
        assert sorted(os.listdir(small_filesystem)) == ["full.bin"]
        assert await session.fs.get(target, allow_outside=True) == b"old" * 1000
        assert await session.eval("1 + 1") == 2


@pytest.mark.microbit
@pytest.mark.parametrize("second_put", [False, True])
async def test_a_full_microbit_flash_is_a_clear_error_and_leaves_the_old_file(second_put: bool) -> None:
    """The micro:bit's firmware, once a write filled its flash, corrupts other files on the
    next write that fills it: belay keeps a reserve free on a board without ``os.statvfs`` and
    refuses a put that would reach into it before writing anything, so the flash never fills."""
    async with DeviceSessionManager(SessionOptions()) as manager, manager.session("microbit") as session:
        await session.fs.put(b"old" * 100, "full.bin")
        await session.exec(  # fill the flash behind fs's back (a failed file is dropped), leaving ~1 KB
            "f=open('filler.bin','wb')\nb=b'x'*128\nn=0\ntry:\n while 1:\n  f.write(b)\n  n+=128\n"
            "except OSError:\n pass\ntry:\n f.close()\nexcept OSError:\n pass\n"
            "if 'filler.bin' in __import__('os').listdir():__import__('os').remove('filler.bin')\n"
            "f=open('filler.bin','wb')\nfor i in range(n//128-8): f.write(b)\nf.close()"
        )
        try:
            with pytest.raises(BoardFileError) as caught:
                await session.fs.put(os.urandom(1800), "full.bin")  # through parts: atomic
            assert (
                caught.value.errno == 28
                and "microbit" in str(caught.value)
                and "full.bin" in str(caught.value)
                and "nothing was written" in str(caught.value)
            )
            assert board_names(await session.fs.ls()) == []
            assert await session.fs.get("full.bin") == b"old" * 100
            if second_put:
                with pytest.raises(BoardFileError):  # nor in place: not even over the old file's room
                    await session.fs.put(os.urandom(6000), "full.bin")
                assert await session.fs.get("full.bin") == b"old" * 100
                assert board_names(await session.fs.ls()) == []
        finally:
            await session.exec("__import__('os').remove('filler.bin')")


async def test_a_name_too_long_is_a_clear_error_and_leaves_nothing(manager: DeviceSessionManager) -> None:
    port = port_of(manager)
    name = "n" * (300 if port == "unix" else 200)
    async with manager.session(port) as session:
        before = await session.fs.ls()
        with pytest.raises(DeviceExecError) as caught:
            await session.fs.put(b"data" * 100, name)
        text = str(caught.value)
        assert port in text and name[:50] in text
        if port == "unix":
            assert isinstance(caught.value, BoardFileError) and caught.value.errno == 36
            assert "too long" in text
        assert await session.fs.ls() == before


# --- with other features ------------------------------------------------------------------


async def test_a_put_while_a_board_thread_runs() -> None:
    data = os.urandom(300 * 1024)
    async with DeviceSessionManager(SessionOptions()) as manager, manager.session("unix") as session:

        @session.thread
        def churn() -> None:
            import belay_agent

            n = 0
            while belay_agent.running():
                n += len(bytes(100))

        await churn()
        await session.fs.put(data, "busy.bin")
        assert await session.fs.get("busy.bin") == data
        await session.fs.rm("busy.bin")


async def test_two_sessions_putting_to_the_same_file(manager: DeviceSessionManager) -> None:
    port = port_of(manager)
    size = 1500 if port == "microbit" else 100 * 1024
    first, second = os.urandom(size), os.urandom(size)
    async with manager.session(port) as one, manager.session(port) as two:
        async with anyio.create_task_group() as group:
            group.start_soon(one.fs.put, first, "shared.bin")
            group.start_soon(two.fs.put, second, "shared.bin")
        assert await one.fs.get("shared.bin") in (first, second)
        assert board_names(await two.fs.ls()) == []
        await one.fs.rm("shared.bin")
