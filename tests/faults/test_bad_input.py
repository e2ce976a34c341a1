"""Bad input through the public API, on both boards: a clear error, the board still usable,
and a bystander session (its variable and deployed task) untouched.

Covered: control bytes and ctrl-D in arguments, results and code; huge literals; text that
is not UTF-8; results that are not literals (and one that looks like code); values that
cannot cross the wire; invalid session ids and ended sessions. Ports that are not boards
(a directory, a regular file, a port another process holds) are in test_ports.py.
"""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest

from belay import DeviceExecError, DeviceSessionManager, DeviceValueError, SessionError
from belay.device import Device
from belay.session.functions.tasks import Task

from .conftest import Bystander, observer

pytestmark = pytest.mark.anyio

ALL_CONTROL_TEXT = "".join(map(chr, range(32))) + "\x7f"


async def test_control_bytes_and_ctrl_d_round_trip_in_arguments_and_results(
    manager: DeviceSessionManager, board: str, bystander: Bystander
) -> None:
    async with manager.session(board) as session:

        @session.task
        def echo(value):  # type: ignore[no-untyped-def]
            return value

        with anyio.fail_after(30):
            assert await echo(ALL_CONTROL_TEXT) == ALL_CONTROL_TEXT
            assert await echo(bytes(range(256))) == bytes(range(256))
            assert await echo({"\x04": b"\x04\x03\x01\x02", "k": ("\x04>", "OK\x04")}) == {
                "\x04": b"\x04\x03\x01\x02",
                "k": ("\x04>", "OK\x04"),
            }
            with pytest.raises(DeviceValueError, match=r"printed a \\x04"):  # the raw REPL cannot carry it
                await session.exec("s = 'OK\\x04\\x04>'\nprint(s)")
            assert await session.eval("s") == "OK\x04\x04>"
            assert await session.eval("len('\\udcff')") == 1  # a lone surrogate crosses too
    await bystander.check()


async def test_control_bytes_in_code_itself_are_the_boards_syntax_error(
    manager: DeviceSessionManager, board: str, bystander: Bystander
) -> None:
    device = observer(manager, board)
    with anyio.fail_after(30):
        for code in ["x = 1\x04\nprint(2)", "\x04", "\x03\x03\x01print(1)", "\x02", "print(1)\x1a"]:
            with pytest.raises(DeviceExecError) as caught:
                await device.exec(code)
            assert caught.value.remote_type == "SyntaxError", code
        assert await device.eval("'still at the raw prompt'") == "still at the raw prompt"
        async with manager.session(board) as session:
            with pytest.raises(DeviceExecError) as caught:
                await session.exec("y = 2\x04")
            assert caught.value.remote_type == "SyntaxError"
            assert await session.eval("1 + 1") == 2
    await bystander.check()


async def test_text_that_is_not_utf8_is_refused_or_the_boards_error(
    manager: DeviceSessionManager, board: str, bystander: Bystander
) -> None:
    device = observer(manager, board)
    with anyio.fail_after(30):
        with pytest.raises(DeviceValueError, match="surrogate"):
            await device.exec("x = '\udcff'")  # a str that has no UTF-8 form: refused on the host
        with pytest.raises(DeviceExecError) as caught:  # bytes that are not UTF-8: the board's own error
            await device.exec(b"print(1)\n\xff\xfe")
        assert caught.value.remote_type == "NameError"
        assert "\ufffd" in caught.value.remote_message  # shown, not decoded into something else
        assert await device.exec(b"print('caf\xc3\xa9')") == "caf\u00e9\n"
    await bystander.check()


SNEAKY = """
class Sneaky:
    def __repr__(self):
        return "__import__('pathlib').Path(%r).touch()" % MARKER
"""


async def test_results_that_are_not_literals_are_refused_and_never_evaluated(
    manager: DeviceSessionManager, board: str, bystander: Bystander, tmp_path: Path
) -> None:
    marker = tmp_path / "evaluated"
    async with manager.session(board) as session:

        @session.task
        def thing():  # type: ignore[no-untyped-def]
            return object()

        with anyio.fail_after(30):
            with pytest.raises(DeviceValueError, match="not a literal"):
                await thing()
            # a class costs the micro:bit's parser more heap than two sessions leave it
            sneaky = board == "unix"
            if sneaky:
                await session.exec(f"MARKER = {str(marker)!r}\n{SNEAKY}")
            for expression in ("Sneaky()",) * sneaky + ("len", "[1, object()]", "print"):
                with pytest.raises(DeviceValueError, match="not a literal"):
                    await session.eval(expression)
            value = [1, "two", b"3", (4.5,), {6: None}]
            assert await session.eval(repr(value)) == value
    assert not marker.exists()
    await bystander.check()


async def test_values_that_cannot_cross_the_wire_are_refused_before_anything_is_sent(
    manager: DeviceSessionManager, board: str, bystander: Bystander
) -> None:
    async with manager.session(board) as session:

        @session.task
        def echo(value):  # type: ignore[no-untyped-def]
            return value

        nested: object = 0
        for _ in range(150):
            nested = [nested]
        with anyio.fail_after(30):
            for value in (object(), nested, {1, object}, lambda: 1):
                with pytest.raises(DeviceValueError):
                    await echo(value)
            with pytest.raises(DeviceValueError, match="identifier"):
                await echo(1, **{"not an identifier": 2})
            assert await echo("fine") == "fine"
    await bystander.check()


async def test_huge_literals_are_refused_or_the_boards_memory_error_never_a_dead_board(
    manager: DeviceSessionManager, board: str, bystander: Bystander
) -> None:
    """A board holds a whole plain-raw call in one heap block as it arrives; one that runs out
    there halts (the micro:bit) or exits (the unix port). Calls it cannot hold are refused."""
    device = observer(manager, board)
    free = int(await device.eval("[__import__('gc').collect(), __import__('gc').mem_free()][1]"))
    async with manager.session(board) as session:

        @session.task
        def size(value):  # type: ignore[no-untyped-def]
            return len(value)

        with anyio.fail_after(120):
            with pytest.raises(DeviceValueError, match="largest free heap block") as refused:
                await size("x" * (free * 2))  # never reaches the board
            assert refused.value.port == board
            assert refused.value.limit is not None and refused.value.limit < free * 2
            for length in (refused.value.limit // 2, refused.value.limit - 100, 100):
                await _fits_or_a_clear_error(size, length)
            assert await size("z" * 100) == 100
            assert await session.eval("10 ** 200") == 10**200
    await bystander.check()


async def _fits_or_a_clear_error(size: Task, length: int) -> None:
    try:
        assert await size("y" * length) == length
    except DeviceExecError as error:  # fits the wire, not the board's compiler: its MemoryError
        assert error.remote_type == "MemoryError"
    except DeviceValueError as error:  # the heap shrank since the last look: refused again
        assert error.limit is not None


async def test_invalid_and_ended_session_ids_are_session_errors_naming_them(
    manager: DeviceSessionManager, board: str, bystander: Bystander
) -> None:
    for bad in ("nope", "", "../" * 10, "\x04\x03", bystander.session.session_id + "x"):
        with pytest.raises(SessionError) as caught:
            manager.get_session(bad)
        assert caught.value.session_id == bad
        assert repr(bad) in str(caught.value)
        with pytest.raises(SessionError):
            await manager.end_session(bad)
    async with manager.session(board) as session:

        @session.task
        def one():  # type: ignore[no-untyped-def]
            return 1

        assert await one() == 1
    ended = session.session_id
    with anyio.fail_after(30):
        for use in (lambda: session.exec("1"), lambda: session.eval("1"), one):
            with pytest.raises(SessionError) as used:
                await use()
            assert used.value.session_id == ended
        with pytest.raises(SessionError) as again:
            await manager.end_session(ended)
        assert again.value.session_id == ended
        await session.close()  # closing twice is harmless
    await bystander.check()


async def test_a_device_with_a_small_output_bound_truncates_with_a_marker(board: str) -> None:
    streamed: list[bytes] = []
    async with await Device.open(board, max_output=1000) as device:
        with anyio.fail_after(60):
            code = "for i in range(100):\n    print('%04d' % i + '.' * 45)"
            text = await device.exec(code, on_output=streamed.append)
            assert text.startswith("0000") and len(text) < 1200
            assert text.endswith("[belay: output truncated: a call keeps at most 1000 bytes]\n")
            assert b"0099" in b"".join(streamed)  # all of it was streamed
            with pytest.raises(DeviceValueError, match="output limit"):
                await device.eval("'v' * 1200")
            assert await device.eval("'v' * 20") == "v" * 20


async def test_a_traceback_over_the_bound_is_cut_marked_and_still_named() -> None:
    """The unix board only: the micro:bit cannot hold a 70 KB message."""
    async with await Device.open("unix") as device:
        with anyio.fail_after(30), pytest.raises(DeviceExecError) as caught:
            await device.exec("raise ValueError('m' * 70000)")
        assert caught.value.remote_type == "ValueError"
        assert caught.value.remote_message.startswith("mmmm")
        traceback = caught.value.remote_traceback
        assert traceback.endswith("[belay: traceback truncated: at most 65536 bytes are kept]")
        assert len(traceback) < 66 * 1024
        assert await device.eval("'usable'") == "usable"
