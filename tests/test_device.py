"""Device calls on both virtual boards, for real: output, values, errors, interrupts, reboots.

Each test runs on the unix port and on the micro:bit firmware in QEMU (``board`` fixture in
conftest). Tests that leave the board usable share one device per module; the rest open their own.
"""

from __future__ import annotations

import math

import anyio
import pytest

from belay.device import Device
from belay.errors import ConnectionLostError, DeviceExecError, DeviceTimeoutError, DeviceValueError
from belay.transports import BoardEnd
from belay.transports.memory import MemoryTransport

pytestmark = pytest.mark.anyio

# --- output -------------------------------------------------------------------------


async def test_exec_returns_and_streams_what_the_code_printed(device: Device) -> None:
    chunks: list[bytes] = []
    text = await device.exec("print('hello')\nfor i in range(3): print(i, i * i)", on_output=chunks.append)
    assert text == "hello\n0 0\n1 1\n2 4\n"
    assert b"".join(chunks).replace(b"\r\n", b"\n") == text.encode()


async def test_exec_of_silent_code_returns_nothing(device: Device) -> None:
    assert await device.exec("quiet = 1") == ""
    assert await device.exec("") == ""
    assert await device.eval("quiet") == 1


async def test_exec_keeps_state_between_calls(device: Device) -> None:
    await device.exec("def triple(x):\n    return 3 * x\n")
    assert await device.eval("triple(14)") == 42


async def test_output_holding_the_framing_bytes_is_delivered_whole(device: Device) -> None:
    # chr(4) ends stdout in the framing, '>' is the prompt, the banner text ends a sync.
    code = "print('a' + chr(4) + 'b>' + chr(1) + 'c')\nprint('raw REPL; CTRL-B to exit')\nprint('>')"
    text = await device.exec(code)
    assert text == "a\x04b>\x01c\nraw REPL; CTRL-B to exit\n>\n"
    assert await device.eval("1 + 1") == 2


async def test_output_before_an_exception_reaches_on_output(device: Device) -> None:
    chunks: list[bytes] = []
    with pytest.raises(DeviceExecError) as caught:
        await device.exec(
            "print('first')\nprint('second')\nraise ValueError('late')", on_output=chunks.append
        )
    assert b"".join(chunks).replace(b"\r\n", b"\n") == b"first\nsecond\n"
    assert caught.value.remote_type == "ValueError"
    assert caught.value.remote_message == "late"


async def test_a_lot_of_output_streams_and_returns_whole(device: Device, board: str) -> None:
    lines = 1048 if board == "unix" else 20  # 1 MB on unix; 20 KB on the (slow) micro:bit UART
    chunks: list[bytes] = []
    with anyio.fail_after(30):
        text = await device.exec(
            f"for i in range({lines}): print('%06d' % i + 'x' * 994)", on_output=chunks.append
        )
    expected = "".join(f"{i:06d}" + "x" * 994 + "\n" for i in range(lines))
    assert len(expected) == lines * 1001
    assert text == expected
    assert b"".join(chunks).replace(b"\r\n", b"\n") == expected.encode()
    assert len(chunks) > 1  # streamed while it ran, not handed over at the end


# --- values -------------------------------------------------------------------------

NESTED = {"k": [(1, b"\x00", None), {"s": {3}, "t": ()}], 2: {"deep": [[[bytearray(b"\xff")]]]}}
LITERALS = [
    None, True, False, 0, 1, -7, 2**30 - 1, -(2**30),
    "", "plain", "héllo wörld ☃ 日本 🐍", "tab\t nl\n cr\r esc\x1b nul\x00 del\x7f",
    "quote' \"dq\" back\\slash",
    b"", b"\x00\x04\xff", bytes(range(256)), bytearray(), bytearray(b"\x00\x04\xff"),
    (), (1,), (1, "a", None), [], [1, [2, [3, []]]], {}, {"a": 1, 2: [None], (1, 2): {"x": b"y"}},
    {1, 2, 3}, {"a", (1, 2)}, set(), NESTED,
]  # fmt: skip


def _same(got: object, want: object) -> bool:
    """Equal and of the same types all the way down (True is not 1, bytes is not bytearray)."""
    if type(got) is not type(want):
        return False
    if isinstance(want, list | tuple):
        return len(got) == len(want) and all(map(_same, got, want))  # type: ignore[arg-type]
    if isinstance(want, dict):
        return got.keys() == want.keys() and all(_same(got[k], want[k]) for k in want)  # type: ignore[attr-defined]
    return got == want


@pytest.mark.parametrize("value", LITERALS, ids=[f"{i}-{type(v).__name__}" for i, v in enumerate(LITERALS)])
async def test_eval_brings_back_every_literal_type(device: Device, value: object) -> None:
    await device.exec(f"v = {value!r}")
    got = await device.eval("v")
    assert _same(got, value), (got, value)
    assert _same(await device.eval(repr(value)), value)


async def test_eval_of_values_the_board_computed(device: Device) -> None:
    assert await device.eval("bytes([0, 4, 255]) + b'>'") == b"\x00\x04\xff>"
    assert await device.eval("{i: str(i) * i for i in range(3)}") == {0: "", 1: "1", 2: "22"}
    assert await device.eval("'é' * 3 + chr(0x1F40D)") == "ééé🐍"
    assert await device.eval("set(range(3)) - {1}") == {0, 2}


@pytest.mark.parametrize("value", [0.0, 2.5, -0.125, 1.0e10, 3.14159, -2.718281828, 1.5e-7, 6.02e23])
async def test_floats_come_back_to_the_boards_precision(device: Device, board: str, value: float) -> None:
    got = await device.eval(repr(value))
    assert type(got) is float
    if board == "unix":
        assert got == value  # doubles: exact
    else:
        assert got == pytest.approx(value, rel=1e-6)  # the micro:bit's floats are single precision


async def test_infinities_and_nan(device: Device) -> None:
    assert await device.eval("float('inf')") == math.inf
    assert await device.eval("-float('inf')") == -math.inf
    assert math.isnan(await device.eval("float('nan')"))


async def test_big_integers(device: Device) -> None:
    # both boards have arbitrary-precision integers (the micro:bit firmware too)
    for value in (2**64, -(2**100) + 1, 10**50 + 7):
        assert await device.eval(repr(value)) == value
    assert await device.eval("2 ** 200") == 2**200


async def test_code_holding_control_bytes_in_string_literals_round_trips(device: Device) -> None:
    special = "<real \x04 char> \x01 \x03 \x02 \x05A\x01 > >>> \r\n raw REPL; CTRL-B to exit"
    await device.exec(f"s = {special!r}".replace("\\x04", "\x04").replace("\\x01", "\x01"))
    assert await device.eval("s") == special
    assert await device.eval("len(s)") == len(special)
    await device.exec("t = '\x04\x01>'  # a comment holding \x04 and \x03 too")
    assert await device.eval("t") == "\x04\x01>"
    assert await device.eval("[ord(c) for c in t]") == [4, 1, ord(">")]


# --- errors -------------------------------------------------------------------------


async def test_syntax_error_is_a_device_exec_error(device: Device) -> None:
    with pytest.raises(DeviceExecError) as caught:
        await device.exec("def f(:\n    pass")
    assert caught.value.remote_type == "SyntaxError"
    assert "SyntaxError" in caught.value.remote_traceback
    assert await device.eval("'usable'") == "usable"


async def test_syntax_error_in_code_that_needed_escaping(device: Device) -> None:
    with pytest.raises(DeviceExecError) as caught:
        await device.exec("x = '\x04' +")
    assert caught.value.remote_type == "SyntaxError"


async def test_runtime_error_carries_type_message_and_traceback(device: Device) -> None:
    code = "def inner():\n    return {}['missing key']\n\ndef outer():\n    inner()\n\nouter()\n"
    with pytest.raises(DeviceExecError) as caught:
        await device.exec(code)
    error = caught.value
    assert error.remote_type == "KeyError"
    assert "missing key" in error.remote_message
    assert error.remote_traceback.startswith("Traceback (most recent call last):")
    assert "line 2" in error.remote_traceback and "line 5" in error.remote_traceback
    assert "in inner" in error.remote_traceback
    assert error.remote_traceback.rstrip().endswith(error.remote_message)
    assert error.summary == f"KeyError: {error.remote_message}"
    board = error.remote_traceback.strip("\n")
    assert str(error) == f"{error.summary}\n\nBoard {board[0].lower()}{board[1:]}"  # the board's own words


@pytest.mark.parametrize(
    ("code", "remote_type", "message"),
    [
        ("1 / 0", "ZeroDivisionError", "by zero"),
        ("raise ValueError('bad: thing')", "ValueError", "bad: thing"),
        ("undefined_name_xyz", "NameError", "undefined_name_xyz"),
        ("class MyError(Exception): pass\nraise MyError('mine')", "MyError", "mine"),
        ("raise RuntimeError", "RuntimeError", ""),
    ],
)
async def test_remote_exception_types_and_messages(
    device: Device, code: str, remote_type: str, message: str
) -> None:
    with pytest.raises(DeviceExecError) as caught:
        await device.exec(code)
    assert caught.value.remote_type == remote_type
    assert message in caught.value.remote_message
    if not message:
        assert caught.value.remote_message == ""


async def test_eval_of_a_failing_expression_raises(device: Device) -> None:
    with pytest.raises(DeviceExecError) as caught:
        await device.eval("int('nope')")
    assert caught.value.remote_type == "ValueError"


# --- interrupts ---------------------------------------------------------------------


async def test_cancel_scope_interrupts_a_busy_loop_and_the_device_stays_usable(device: Device) -> None:
    await device.exec("kept = 41")
    with anyio.fail_after(5):
        start = anyio.current_time()
        with anyio.move_on_after(0.3) as scope:
            await device.exec("while True: pass")
        assert scope.cancelled_caught
        assert anyio.current_time() - start < 3
        assert await device.eval("kept + 1") == 42  # interrupted, not reset
        assert await device.exec("print('after')") == "after\n"


async def test_timeout_interrupts_a_busy_loop_with_a_timeout_error(device: Device) -> None:
    with anyio.fail_after(5):
        start = anyio.current_time()
        with pytest.raises(DeviceTimeoutError) as caught:
            await device.exec("n = 0\nwhile True: n += 1", timeout=0.3)
        elapsed = anyio.current_time() - start
        assert isinstance(caught.value, TimeoutError)
        assert caught.value.timeout == 0.3
        assert 0.3 <= elapsed < 3
        assert await device.eval("n > 0") is True  # the loop did run
        assert await device.eval("'still here'") == "still here"


async def test_default_call_timeout_applies(device: Device) -> None:
    device.call_timeout = 0.3
    try:
        with anyio.fail_after(5), pytest.raises(DeviceTimeoutError):
            await device.exec("while True: pass")
    finally:
        device.call_timeout = None
    assert await device.eval("2 + 2") == 4


async def test_output_printed_before_a_cancel_was_streamed(device: Device) -> None:
    chunks: list[bytes] = []
    with anyio.fail_after(5):
        with anyio.move_on_after(0.5):
            await device.exec("print('started')\nwhile True: pass", on_output=chunks.append)
        assert b"".join(chunks).startswith(b"started")
        assert await device.eval("3") == 3


# --- long programs (paced writes on the micro:bit) -----------------------------------


def _long_program(seed: int) -> tuple[str, str]:
    """A ~650-byte program and what it must print if every byte arrived in order."""
    text = "".join(chr(33 + (seed * 7 + i * 13) % 94) for i in range(300))
    text = text.replace("\\", "/").replace("'", '"')
    lines = [f"s = '{text}'", "acc = 0"]
    lines += [f"acc += {seed + i} * {i % 7 + 1}  # line {i}" for i in range(12)]
    lines.append("print(len(s), sum(ord(c) for c in s), acc)")
    acc = sum((seed + i) * (i % 7 + 1) for i in range(12))
    return "\n".join(lines), f"300 {sum(map(ord, text))} {acc}\n"


async def test_programs_longer_than_a_write_chunk_arrive_intact(device: Device) -> None:
    for seed in range(10):
        program, expected = _long_program(seed)
        assert len(program) >= 600
        with anyio.fail_after(10):
            assert await device.exec(program) == expected


# --- reboots ------------------------------------------------------------------------


async def test_unix_board_reboots_when_its_interpreter_exits() -> None:
    async with await Device.open("unix") as device:
        await _reboot_and_check(device)


async def _reboot_and_check(device: Device) -> None:
    first_pid = device.transport.pid  # type: ignore[attr-defined]
    await device.exec("before_reboot = 1")
    with anyio.fail_after(10):
        with pytest.raises(ConnectionLostError) as caught:
            await device.exec("import sys; sys.exit()")
        assert caught.value.rebooted is True
        assert device.reboots == 1
        assert not device.is_lost
        assert await device.eval("1 + 2") == 3
        with pytest.raises(DeviceExecError) as gone:  # RAM did not survive the reboot
            await device.eval("before_reboot")
        assert gone.value.remote_type == "NameError"
    assert device.transport.pid != first_pid  # type: ignore[attr-defined]
    assert device.transport.generation == 1
    assert device.reboots == 1


# --- more edges ---------------------------------------------------------------------


async def test_concurrent_calls_are_serialised_and_each_gets_its_own_answer(device: Device) -> None:
    results: dict[int, object] = {}

    async def ask(i: int) -> None:
        results[i] = await device.eval(f"{i} * {i}")

    with anyio.fail_after(20):
        async with anyio.create_task_group() as group:
            for i in range(12):
                group.start_soon(ask, i)
    assert results == {i: i * i for i in range(12)}


async def test_a_call_cancelled_while_waiting_for_the_lock_leaves_the_board_alone(device: Device) -> None:
    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            group.start_soon(
                device.exec,
                "import time\nwaited = 0\nfor i in range(5):\n    time.sleep(0.05)\n    waited += 1",
            )
            await anyio.sleep(0.05)
            with anyio.move_on_after(0.05):
                await device.exec("waited = -1")  # queued behind the first, then abandoned
        assert await device.eval("waited") == 5


async def test_timeout_interrupts_a_call_that_floods_output(device: Device) -> None:
    with anyio.fail_after(10):
        with pytest.raises(DeviceTimeoutError):
            await device.exec("while True: print('spam' * 20)", timeout=0.3)
        assert await device.eval("'calm'") == "calm"
        assert await device.exec("print('clean')") == "clean\n"


async def test_timeout_interrupts_a_sleep(device: Device) -> None:
    with anyio.fail_after(5):
        with pytest.raises(DeviceTimeoutError):
            await device.exec("import time\ntime.sleep(10)", timeout=0.3)
        assert await device.eval("1") == 1


async def test_a_call_cancelled_while_its_code_is_still_being_written(device: Device) -> None:
    # ~800 bytes: a quarter of a second of paced writes on the micro:bit (whose heap is ~9 KB)
    program = "acc = 0\n" + "acc += 1  # one more line\n" * 30 + "print('all written', acc)"
    with anyio.fail_after(10):
        with anyio.move_on_after(0.05) as scope:
            await device.exec(program)
        if scope.cancelled_caught:
            assert await device.eval("'recovered'") == "recovered"
        assert await device.exec(program) == "all written 30\n"


async def test_a_value_that_is_not_a_literal_is_refused_and_the_device_stays_usable(device: Device) -> None:
    from belay.errors import DeviceValueError

    with pytest.raises(DeviceValueError):
        await device.eval("object()")
    with pytest.raises(DeviceValueError):
        await device.eval_code("pass")  # printed nothing
    assert await device.eval("[1]") == [1]


async def test_soft_reset_clears_ram(fresh_device: Device) -> None:
    device = fresh_device
    await device.exec("ram = 1")
    with anyio.fail_after(10):
        await device.soft_reset()
        assert device.reboots == 1
        with pytest.raises(DeviceExecError) as caught:
            await device.eval("ram")
        assert caught.value.remote_type == "NameError"
        assert await device.eval("2 + 3") == 5


# --- known bugs in belay/device.py (strict: these flip to failures once fixed) ------


async def test_eval_of_an_expression_with_a_trailing_comment(device: Device) -> None:
    assert await device.eval("1 + 1  # a comment") == 2


async def test_eval_of_a_statement_is_refused_on_the_host(device: Device) -> None:
    with pytest.raises(DeviceValueError, match="not an expression"):
        await device.eval("x = 3")
    assert await device.eval("1") == 1


async def test_timeout_covers_waiting_for_the_lock(device: Device) -> None:
    outcome: list[object] = []

    async def queued_call() -> None:
        start = anyio.current_time()
        try:
            outcome.append(await device.eval("1", timeout=0.2))
        except DeviceTimeoutError as error:
            outcome.append(error)
        outcome.append(anyio.current_time() - start)

    with anyio.fail_after(10):
        async with anyio.create_task_group() as group:
            group.start_soon(device.exec, "import time\ntime.sleep(1)")
            await anyio.sleep(0.05)
            group.start_soon(queued_call)
    result, elapsed = outcome
    assert isinstance(result, DeviceTimeoutError), f"returned {result!r} after {elapsed:.2f}s"
    assert isinstance(elapsed, float) and elapsed < 0.6


# --- a stale interrupt (scripted board) -------------------------------------------------


class LatchingBoard:
    """A raw REPL that, as MicroPython 1.9 does, keeps a Ctrl-C received in the instant after
    a call's last check (its output sent, its framing not yet) as a pending KeyboardInterrupt
    that the next call raises at once."""

    def __init__(self, end: BoardEnd) -> None:
        self.end, self.line, self.pending, self.calls = end, bytearray(), False, 0

    async def run(self) -> None:
        while True:
            for byte in await self.end.sent():
                await self._byte(byte)

    async def _byte(self, byte: int) -> None:
        if byte == 0x01:
            self.line.clear()
            self.end.feed(b"raw REPL; CTRL-B to exit\r\n>")
        elif byte == 0x03:
            self.line.clear()
        elif byte == 0x04:
            await self._run(bytes(self.line).strip())
            self.line.clear()
        else:
            self.line.append(byte)

    async def _run(self, code: bytes) -> None:
        self.calls += 1
        if self.pending:
            self.pending = False
            self.end.feed(b"OK\x04Traceback (most recent call last):\r\nKeyboardInterrupt: \r\n\x04>")
            return
        value = code.removeprefix(b"print(repr(").removeprefix(b"print(").rstrip(b")\n")
        self.end.feed(b"OK" + value + b"\r\n")
        with anyio.move_on_after(0.05):  # the call is ending: a Ctrl-C now is kept for the next
            late = await self.end.sent()
            self.pending = late.startswith(b"\x03")
            self.line += late.lstrip(b"\x03")
        self.end.feed(b"\x04\x04>")


async def test_an_interrupt_that_lands_as_a_call_ends_never_reaches_the_next_call() -> None:
    transport, end = MemoryTransport.pair()
    board = LatchingBoard(end)
    async with anyio.create_task_group() as group:
        group.start_soon(board.run)
        device = Device.over(transport, sync_timeout=2.0, recover_timeout=2.0)
        for n in range(5):
            with anyio.CancelScope() as scope:  # cancelled once its output has arrived
                await device.call(f"print(repr({n}\n))", on_output=lambda _data: scope.cancel())
            assert scope.cancelled_caught
            assert await device.eval(f"{n + 100}") == n + 100
        group.cancel_scope.cancel()


async def test_a_board_that_does_not_come_back_is_reported_with_what_it_sent() -> None:
    transport, end = MemoryTransport.pair()

    async def slow_port() -> None:  # answers the first sync, then only ever half a banner
        await end.sent()
        end.feed(b"raw REPL; CTRL-B to exit\r\n>")
        await end.sent()
        end.feed(b"OK")
        while True:
            await end.sent()
            end.feed(b"raw RE")

    async with anyio.create_task_group() as group:
        group.start_soon(slow_port)
        device = Device.over(transport, sync_timeout=0.5, recover_timeout=0.5)
        with pytest.raises(DeviceTimeoutError):
            await device.eval("1", timeout=0.1)
        with pytest.raises(DeviceTimeoutError) as caught:
            await device.eval("2")
        group.cancel_scope.cancel()
    message = str(caught.value)
    assert "of an interrupt" not in message or "bytes arrived since" in message
    assert "bytes arrived since, the last b'raw RE" in message and "a prompt fragment arrived" in message
    assert "busy loop" not in message
