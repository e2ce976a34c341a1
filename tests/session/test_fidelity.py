"""Code sent through a session behaves as it does at the bare REPL (issue 9), on both boards.

Each snippet runs twice on the same board: at the bare REPL (an observer's plain call, outside
every session) and in a session; what it prints must be the same.
"""

from __future__ import annotations

import sys
import time

import pytest
from session_helpers import observer, port_of

from belay import DeviceExecError, DeviceSessionManager, DeviceTimeoutError, DeviceValueError

pytestmark = pytest.mark.anyio

SNIPPETS = {
    "print-tuple-and-list": "print((1, 2), [3])",
    "print-nested": "print({'a': [1, (2, 3)], 'b': None}, sep='|')",
    "name-is-main": "print(__name__)",
    "main-guard": "if __name__ == '__main__':\n    print('ran as a script')",
    "recursion-with-print": (
        "def down(n):\n    if n == 0:\n        print('bottom', (n, [n]))\n        return 0\n"
        "    return down(n - 1)\nprint(down(1))"
    ),
    "exceptions": (
        "try:\n    {}['k']\nexcept KeyError as e:\n    print('caught', repr(e))\n"
        "try:\n    raise ValueError('v')\nexcept Exception as e:\n    print(repr(e), e.args)"
    ),
    "generators-and-closures": (
        "def counter(k):\n    def step(x):\n        return x + k\n    return step\n"
        "print([counter(3)(i) for i in (x * x for x in range(4))])"
    ),
    "classes": (
        "class P:\n    def __init__(self, x):\n        self.x = x\n    def __repr__(self):\n"
        "        return 'P(%d)' % self.x\nprint([P(1), P(2)])"
    ),
    "big-ints-and-strings": "print(2 ** 70, 'a,b'.split(','), '%05.1f' % 3.14159)",
    "globals-see-definitions": "v = 5\ndef f():\n    return v * 2\nprint(f(), 'v' in globals())",
}


@pytest.mark.parametrize("snippet", SNIPPETS.values(), ids=SNIPPETS.keys())
async def test_a_snippet_prints_in_a_session_what_it_prints_at_the_bare_repl(
    manager: DeviceSessionManager, snippet: str
) -> None:
    port = port_of(manager)
    async with manager.session(port, on_output=None) as session:
        in_session = await session.exec(snippet)
    bare = await observer(manager).exec(snippet)
    assert in_session == bare
    assert "Traceback" not in in_session


async def test_a_task_can_print_a_tuple_on_the_smallest_stack(manager: DeviceSessionManager) -> None:
    """On the micro:bit the session's print wrapper used to overflow the stack."""
    printed: list[bytes] = []
    async with manager.session(port_of(manager), on_output=printed.append) as session:

        @session.task
        def show():  # type: ignore[no-untyped-def]
            print((1, 2), [3])  # noqa: T201 - runs on the board
            return "shown"

        assert await show() == "shown"
    assert b"".join(printed).replace(b"\r\n", b"\n") == b"(1, 2) [3]\n"


async def test_what_a_task_prints_reaches_on_output_while_it_still_runs(
    manager: DeviceSessionManager,
) -> None:
    printed: list[tuple[float, bytes]] = []
    async with manager.session(
        port_of(manager), on_output=lambda data: printed.append((time.monotonic(), data))
    ) as session:

        @session.task
        def slow_talker():  # type: ignore[no-untyped-def]
            import time

            print("first")  # noqa: T201 - runs on the board
            time.sleep(1.5)
            print("second")  # noqa: T201 - runs on the board
            return 42

        assert await slow_talker() == 42
        returned = time.monotonic()
    assert b"".join(data for _, data in printed).replace(b"\r\n", b"\n") == b"first\nsecond\n"
    first_arrived = next(at for at, data in printed if data.strip())
    assert returned - first_arrived >= 1.2  # "first" came while the board still slept


async def test_by_default_a_task_prints_to_the_hosts_stdout(
    manager: DeviceSessionManager, capfd: pytest.CaptureFixture[str]
) -> None:
    async with manager.session(port_of(manager)) as session:

        @session.task
        def hello(name):  # type: ignore[no-untyped-def]
            print("hello", name)  # noqa: T201 - runs on the board
            return len(name)

        assert await hello("board") == 5
        sys.stdout.flush()
    assert capfd.readouterr().out == "hello board\n"


async def test_every_call_takes_a_timeout_and_the_session_goes_on(manager: DeviceSessionManager) -> None:
    async with manager.session(port_of(manager), on_output=None) as session:

        @session.task
        def spin():  # type: ignore[no-untyped-def]
            while True:
                pass

        @session.task
        def wait(timeout):  # type: ignore[no-untyped-def]
            return timeout * 2  # a parameter of its own called timeout

        with pytest.raises(DeviceTimeoutError):
            await session.exec("while True: pass", timeout=0.5)
        await session.exec("def forever():\n    while True:\n        pass")
        with pytest.raises(DeviceTimeoutError):
            await session.eval("forever()", timeout=0.5)
        with pytest.raises(DeviceTimeoutError):
            await spin(timeout=0.5)
        assert await wait(timeout=21) == 42
        with pytest.raises(DeviceTimeoutError):
            await spin.with_timeout(0.5)()
        assert await session.fs.put(b"data", "t.bin", timeout=5) is True
        assert await session.fs.get("t.bin", timeout=5) == b"data"
        await session.fs.rm("t.bin", timeout=5)
        assert await session.eval("1 + 1", timeout=None) == 2


async def test_a_board_traceback_points_at_the_host_line_and_never_shows_the_token(
    manager: DeviceSessionManager,
) -> None:
    async with manager.session(port_of(manager), on_output=None) as session:

        @session.task
        def divide(a, b):  # type: ignore[no-untyped-def]
            a = a + b - b
            return a / (b - b)  # the line the board's traceback must name

        with pytest.raises(DeviceExecError) as raised:
            await divide(1, 2)
        error = raised.value
        line = divide.function.__code__.co_firstlineno + 3  # the decorator, the def, then two lines
        assert f'File "{__file__}", line {line}, in divide' in str(error)
        assert "return a / (b - b)" in str(error)  # the host's source line, as CPython shows it
        assert "belay_agent" not in str(error)
        assert error.remote_type == "ZeroDivisionError"
        for text in (str(error), repr(error), error.remote_traceback, error.remote_message):
            assert session.token not in text


async def test_a_script_run_with_its_filename_maps_module_frames(
    manager: DeviceSessionManager, tmp_path: pytest.TempPathFactory
) -> None:
    script = "x = 1\ny = 2\nraise RuntimeError('from the script')\n"
    async with manager.session(port_of(manager), on_output=None) as session:
        with pytest.raises(DeviceExecError) as raised:
            await session.exec(script, filename="/src/job.py")
    assert 'File "/src/job.py", line 3, in <module>' in str(raised.value)
    assert "RuntimeError: from the script" in str(raised.value)


# --- text that looks like belay's framing (issue 25, item 8) --------------------------------


async def test_text_with_belays_answer_mark_is_printed_output_never_an_answer(
    manager: DeviceSessionManager,
) -> None:
    printed: list[bytes] = []
    async with manager.session(port_of(manager), on_output=printed.append) as session:
        assert await session.exec("print('\\x1e123')") == "\x1e123\n"

        @session.task
        def marked():  # type: ignore[no-untyped-def]
            print("\x1e(1, 2)")  # noqa: T201 - runs on the board
            print("a\x1eb")  # noqa: T201
            return 8

        assert await marked() == 8
        assert await session.eval("[len('\\x1e7')]") == [2]
    text = b"".join(printed).replace(b"\r\n", b"\n")
    assert text == b"\x1e123\n\x1e(1, 2)\na\x1eb\n"


async def test_a_printed_ctrl_d_fails_loudly_and_the_session_goes_on(manager: DeviceSessionManager) -> None:
    async with manager.session(port_of(manager), on_output=None) as session:

        @session.task
        def framed():  # type: ignore[no-untyped-def]
            print("OK\x04\x04>")  # noqa: T201 - runs on the board
            return 8

        for call in (framed, lambda: session.exec("print('\\x04\\x04>OK')")):
            with pytest.raises(
                DeviceValueError, match=rf"on {port_of(manager)} .*printed a \\x04 \(Ctrl-D\)"
            ):
                await call()
            assert await session.eval("1 + 1") == 2  # the session goes on
