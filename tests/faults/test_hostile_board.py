"""A board that answers the handshake and then sends the wrong thing: huge values, values past
the memory bound or the deadline, malformed answers, ``inf`` where an int belongs, strings
that are not UTF-8, and code. Every one ends in a value or a :class:`BelayError` within the
call's deadline, the event loop keeps running, and nothing the board sent is evaluated.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import anyio
import pytest

from belay import BelayError, DeviceTimeoutError, DeviceValueError
from belay.agent.answers import MARK, ask
from belay.device import Device
from belay.literals.reader import MAX_MEMORY

from .hostile_board import ALIVE, HostileBoard, Reply, hostile_pair, probe_with

pytestmark = pytest.mark.anyio

EIGHT_MB = 8 * 1024 * 1024


@asynccontextmanager
async def hostile(reply: Reply, probe: bytes | None = None) -> AsyncIterator[tuple[Device, HostileBoard]]:
    """A detected device on a hostile board that answers calls with ``reply``."""
    transport, board = hostile_pair(reply) if probe is None else hostile_pair(reply, probe)
    device = Device.over(transport, sync_timeout=2.0, recover_timeout=1.0)
    async with anyio.create_task_group() as group:
        group.start_soon(board.run)
        with anyio.fail_after(10):
            await device._link.sync(2.0)
            await device.detect()
        yield device, board
        group.cancel_scope.cancel()


def always(answer: bytes) -> Reply:
    return lambda code: answer


async def test_an_8_mb_list_is_read_within_the_deadline_and_bounded_memory() -> None:
    answer = b"[" + b"1, " * (EIGHT_MB // 3) + b"]\r\n"
    async with hostile(always(answer)) as (device, _):
        started = time.monotonic()
        value = await device.eval("big", timeout=5.0)
        elapsed = time.monotonic() - started
    assert len(value) == EIGHT_MB // 3 and value[-1] == 1
    assert elapsed < 5.0  # it was 21 s with an ast parse


async def test_a_large_value_is_read_off_the_event_loop() -> None:
    answer = b"[" + b"[1, (2, 'x')], " * (2 * 1024 * 1024 // 15) + b"]\r\n"  # no fast path
    async with hostile(always(answer)) as (device, _), anyio.create_task_group() as group:
        ticks = _Ticker()
        group.start_soon(ticks.run)
        value = await device.eval("nested", timeout=30.0)
        group.cancel_scope.cancel()
    assert value[0] == [1, (2, "x")]
    assert ticks.longest < 0.5, f"the event loop stalled for {ticks.longest:.2f}s"


class _Ticker:
    """Ticks every 10 ms; ``longest`` is the longest wait between ticks."""

    def __init__(self) -> None:
        self.longest = 0.0

    async def run(self) -> None:
        last = time.monotonic()
        while True:
            await anyio.sleep(0.01)
            now = time.monotonic()
            self.longest = max(self.longest, now - last)
            last = now


async def test_a_value_past_the_memory_bound_is_a_device_value_error() -> None:
    answer = b"[" + b"{}, " * (EIGHT_MB // 4) + b"]\r\n"  # ~2 M dicts: ~500 MB on the host
    async with hostile(always(answer)) as (device, _):
        # bounds against a hang, not a speed test: reading ~8 MB to the bound takes a few seconds
        # of CPU, more on a loaded machine (a 5 s bound failed under two workers)
        with anyio.fail_after(120), pytest.raises(DeviceValueError, match="host memory") as caught:
            await device.eval("dicts", timeout=60.0)
        assert caught.value.limit == MAX_MEMORY
        assert await _still_answers(device)


async def test_a_value_that_takes_longer_than_the_deadline_to_read_times_out_on_time() -> None:
    answer = b"[" + b"[1, (2, 'x')], " * (EIGHT_MB // 15) + b"]\r\n"  # several seconds to read
    async with hostile(always(answer)) as (device, _):
        started = time.monotonic()
        with pytest.raises(DeviceTimeoutError):
            await device.eval("slow", timeout=0.5)
        assert time.monotonic() - started < 1.5


async def test_cancelling_the_caller_stops_the_read() -> None:
    answer = b"[" + b"[1, (2, 'x')], " * (EIGHT_MB // 15) + b"]\r\n"
    async with hostile(always(answer)) as (device, _):
        started = time.monotonic()
        with anyio.move_on_after(0.5):
            await device.eval("slow", timeout=60.0)
        assert time.monotonic() - started < 1.5
        assert await _still_answers(device)


async def _still_answers(device: Device) -> bool:
    with anyio.fail_after(5):
        return await device.exec(ALIVE) == "alive\n"


MALFORMED = [
    b"__import__('os').system('echo pwned')",
    b"open('/tmp/belay-canary', 'w')",
    b"(lambda: 1)()",
    b"[1, 2",
    b"{[1]: 2}",
    b"'unterminated",
    b"\x00",
    b"1" * 5000,
    b"[" * 5000 + b"]" * 5000,
    b"b'\xff'",
    b"[1, 2] junk",
    b"{1: 2, 3}",
    b"bytearray(10**9)",
]


@pytest.mark.parametrize("answer", MALFORMED, ids=range(len(MALFORMED)))
async def test_a_malformed_answer_is_a_device_value_error(answer: bytes) -> None:
    async with hostile(lambda code: b"[1]\r\n" if b"warm" in code else answer + b"\r\n") as (device, _):
        assert await device.eval("warm") == [1]  # whatever the host imports lazily, imported now
        with anyio.fail_after(5), _watching_side_effects() as seen, pytest.raises(DeviceValueError) as caught:
            await device.eval("bad")
        assert "\n" not in str(caught.value)  # one line for the CLI
        assert await _still_answers(device)
    assert seen == []


async def test_an_agent_answer_is_read_the_same_way() -> None:
    async with hostile(lambda code: b"printed\r\n" + MARK + b"[1, 'two', inf]") as (device, _):
        assert await ask(device, "anything") == [1, "two", math.inf]
    async with hostile(always(MARK + b"__import__('os')")) as (device, _):
        with pytest.raises(DeviceValueError):
            await ask(device, "anything")


@pytest.mark.parametrize("field", ["mem_free", "mem_alloc", "mpy"])
@pytest.mark.parametrize("text", ["inf", "-inf", "nan", "'x'", "(1, 2)", "1e400"])
async def test_a_capability_probe_with_a_wrong_number_is_a_device_value_error(field: str, text: str) -> None:
    transport, board = hostile_pair(always(b"None\r\n"), probe_with(**{field: text}))
    device = Device.over(transport, sync_timeout=2.0)
    async with anyio.create_task_group() as group:
        group.start_soon(board.run)
        with anyio.fail_after(5), pytest.raises(DeviceValueError, match="capability probe"):
            await device._link.sync(2.0)
            await device.detect()
        group.cancel_scope.cancel()


def test_a_reaped_session_list_with_inf_is_a_belay_error() -> None:
    from belay.session.records import reaped_sessions

    with pytest.raises(BelayError):
        reaped_sessions([("s1", math.inf, ())])


async def test_a_string_that_is_not_utf8_comes_back_faithfully() -> None:
    async with hostile(always(b"['caf\xff', 'caf\xc3\xa9', b'\\xff']\r\n")) as (device, _):
        broken, fine, raw = await device.eval("strings")
    assert broken == "caf\udcff"  # the board's bytes, as lone surrogates (surrogateescape)
    assert broken.encode("utf-8", "surrogateescape") == b"caf\xff"
    assert fine == "caf\u00e9" and raw == b"\xff"


async def test_bytes_that_are_not_utf8_outside_a_string_are_refused() -> None:
    async with hostile(always(b"[1, \xff]\r\n")) as (device, _):
        with pytest.raises(DeviceValueError):
            await device.eval("broken")


def test_the_cli_reports_a_device_value_error_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    from belay.cli import EXIT_PORT, _report

    error = DeviceValueError("the board sent\na value on\nthree lines")
    assert _report(error) == EXIT_PORT
    assert (
        capsys.readouterr().err == "belay: error: DeviceValueError: the board sent; a value on; three lines\n"
    )


# --- nothing is evaluated ----------------------------------------------------------------

_watching: list[list[str]] = []


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _watching and event in ("exec", "import", "open", "os.system", "subprocess.Popen"):
        _watching[-1].append(event)


sys.addaudithook(_audit)  # cannot be removed; it records only while a test watches


@contextmanager
def _watching_side_effects() -> Iterator[list[str]]:
    """Audit events (exec, import, open, ...) while the hostile board answers."""
    seen: list[str] = []
    _watching.append(seen)
    try:
        yield seen
    finally:
        _watching.pop()


@pytest.mark.parametrize("answer", [b"inf", b"None", b"True", b"'3'", b"1.5"])
async def test_an_agent_count_that_is_not_an_int_is_a_device_value_error(answer: bytes) -> None:
    from belay.agent.install import remove_agent

    answers = iter([MARK + b"0", MARK + b"(" + answer + b", [])"])  # live sessions: none; (ended, zombies)
    async with hostile(lambda code: next(answers)) as (device, _):
        with pytest.raises(DeviceValueError, match="not an int"):
            await remove_agent(device, reset=False)


def test_a_board_streaming_after_a_mark_is_never_held_past_the_bound() -> None:
    from belay.agent.answers import AnswerStream
    from belay.literals import MAX_TEXT

    forwarded = bytearray()
    stream = AnswerStream(forwarded.extend)
    stream(b"printed" + MARK + b"x" * 1000)
    assert forwarded == b"printed"  # a mark: what follows may be the answer, held back
    for _ in range(MAX_TEXT // 65536 + 2):
        stream(b"y" * 65536)
    assert len(stream._held) <= MAX_TEXT + 65536
    assert len(forwarded) > MAX_TEXT  # too long for an answer: forwarded as printed output
    stream(MARK + b"[1]")
    assert bytes(stream._held) == MARK + b"[1]"


@pytest.mark.parametrize("command", [["info"], ["exec", "1"]])
def test_the_cli_on_a_board_whose_probe_says_inf_says_so_in_one_line(
    command: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio

    from dependency_injector import providers

    import belay.container
    from belay.cli import EXIT_PORT, main

    real = belay.container.Container
    boards: list[asyncio.Task[None]] = []

    async def hostile_factory(port: str, **options: Any) -> Any:
        transport, board = hostile_pair(always(b"None\r\n"), probe_with(mem_free="inf"))
        boards.append(asyncio.get_running_loop().create_task(board.run()))  # ends with the loop
        return transport

    def container() -> Any:
        made = real()
        made.transport_factory.override(providers.Object(hostile_factory))
        return made

    monkeypatch.setattr(belay.container, "Container", container)
    assert main([*command, "--port", "unix"]) == EXIT_PORT
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("belay: error: DeviceValueError: the board's capability probe")
    assert "inf" in err[0]
