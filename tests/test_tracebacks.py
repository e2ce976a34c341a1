"""Board tracebacks mapped to the host: ``<string>`` frames of deployed code name the host file and
line, belay's own frames (the agent's, the raw REPL's ``<stdin>`` call) are left out, anything
unknown stays, and CRLF (the micro:bit) or LF both come back as LF."""

from __future__ import annotations

import doctest
import textwrap
from pathlib import Path

import anyio
import pytest

import belay.tracebacks
from belay.device import Device
from belay.errors import DeviceExecError
from belay.tracebacks import CodeOrigin, add_source_lines, is_agent_file, map_traceback, tidy

AGENT_CALL = """\
Traceback (most recent call last):
  File "<stdin>", line 1, in <module>
  File "belay_agent.py", line 60, in c
  File "<string>", line 3, in f
ZeroDivisionError: divide by zero"""

ORIGINS = {"f": CodeOrigin("/host/test_x.py", 10)}


def test_a_deployed_function_frame_names_the_host_file_and_line() -> None:
    assert map_traceback(AGENT_CALL, ORIGINS) == (
        "Traceback (most recent call last):\n"
        '  File "/host/test_x.py", line 12, in f\n'
        "ZeroDivisionError: divide by zero"
    )


def test_crlf_from_the_microbit_maps_the_same_and_comes_back_as_lf() -> None:
    crlf = AGENT_CALL.replace("\n", "\r\n") + "\r\n"
    assert map_traceback(crlf, ORIGINS) == map_traceback(AGENT_CALL, ORIGINS)
    assert "\r" not in map_traceback(crlf, {})


def test_the_first_line_of_the_code_is_first_line() -> None:
    text = 'Traceback (most recent call last):\n  File "<string>", line 1, in g\nValueError: x'
    mapped = map_traceback(text, {"g": CodeOrigin("/h.py", 7)})
    assert '  File "/h.py", line 7, in g' in mapped.splitlines()


def test_unknown_frames_stay_as_they_are() -> None:
    text = textwrap.dedent("""\
        Traceback (most recent call last):
          File "<stdin>", line 1, in <module>
          File "belay_agent.py", line 60, in c
          File "<string>", line 3, in f
          File "<string>", line 9, in helper
          File "main.py", line 4, in board_side
        OSError: [Errno 2] ENOENT""")
    mapped = map_traceback(text, ORIGINS).splitlines()
    assert mapped == [
        "Traceback (most recent call last):",
        '  File "/host/test_x.py", line 12, in f',
        '  File "<string>", line 9, in helper',  # no origin given: unchanged
        '  File "main.py", line 4, in board_side',  # a file on the board: unchanged
        "OSError: [Errno 2] ENOENT",
    ]


def test_every_agent_module_and_a_nested_call_through_the_agent_are_left_out() -> None:
    text = textwrap.dedent("""\
        Traceback (most recent call last):
          File "<stdin>", line 1, in <module>
          File "belay_agent.py", line 88, in x
          File "belay_agent_threads.py", line 12, in run
          File "<string>", line 2, in worker
          File "lib/belay_agent.py", line 30, in running
          File "<string>", line 5, in check
        RuntimeError: stop""")
    origins = {"worker": CodeOrigin("/w.py", 20), "check": CodeOrigin("/c.py", 1)}
    assert map_traceback(text, origins).splitlines() == [
        "Traceback (most recent call last):",
        '  File "/w.py", line 21, in worker',
        '  File "/c.py", line 5, in check',
        "RuntimeError: stop",
    ]


def test_module_level_code_maps_only_with_a_script_origin() -> None:
    text = 'Traceback (most recent call last):\n  File "<stdin>", line 1, in <module>\n' \
           '  File "<string>", line 4, in <module>\nNameError: name \'y\' isn\'t defined'  # fmt: skip
    assert '  File "<string>", line 4, in <module>' in map_traceback(text, ORIGINS)
    mapped = map_traceback(text, ORIGINS, script=CodeOrigin("/s/main.py", 1)).splitlines()
    assert mapped[1:] == ['  File "/s/main.py", line 4, in <module>', "NameError: name 'y' isn't defined"]


def test_code_run_straight_at_the_raw_repl_keeps_its_stdin_frames() -> None:
    text = 'Traceback (most recent call last):\n  File "<stdin>", line 2, in <module>\n' \
           '  File "<stdin>", line 1, in g\nZeroDivisionError: divide by zero'  # fmt: skip
    assert map_traceback(text, {"g": CodeOrigin("/x.py", 1)}) == text


def test_an_error_raised_by_the_agent_itself_keeps_its_frames() -> None:
    text = textwrap.dedent("""\
        Traceback (most recent call last):
          File "<stdin>", line 1, in <module>
          File "belay_agent.py", line 41, in get
        KeyError: <token>""")
    assert map_traceback(text, ORIGINS) == text


@pytest.mark.parametrize(
    "text",
    [
        "",
        "ZeroDivisionError: divide by zero",
        "Traceback (most recent call last):\nMemoryError: memory allocation failed",
        'Traceback (most recent call last):\n  File "<string>", line 2\nSyntaxError: invalid syntax',
        'Traceback (most recent call last):\n  File "<string>", line 3, in f\n'
        "ValueError: m\n[belay: traceback truncated: at most 65536 bytes are kept]",
    ],
)
def test_texts_without_belay_frames_pass_through(text: str) -> None:
    expected = text.replace('"<string>", line 3, in f', '"/host/test_x.py", line 12, in f')
    assert map_traceback(text, ORIGINS) == expected


def test_indentation_and_odd_names_are_kept() -> None:
    text = 'Traceback (most recent call last):\n    File "<string>", line 2, in f\n' \
           '    File "<string>", line 1, in <lambda>\nTypeError: t'  # fmt: skip
    assert map_traceback(text, ORIGINS).splitlines()[1:] == [
        '    File "/host/test_x.py", line 11, in f',
        '    File "<string>", line 1, in <lambda>',
        "TypeError: t",
    ]


def test_code_origin_refuses_a_line_below_one() -> None:
    with pytest.raises(ValueError, match="line number"):
        CodeOrigin("/x.py", 0)
    assert CodeOrigin("/x.py", 5).line(3) == 7
    with pytest.raises(AttributeError):
        CodeOrigin("/x.py", 1).file = "/y.py"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("file", "agent"),
    [("belay_agent.py", True), ("belay_agent_threads.py", True), ("/flash/belay_agent.py", True),
     ("belay_agent.mpy", True), ("my_belay_agent.py", False), ("<string>", False), ("main.py", False)],
)  # fmt: skip
def test_agent_files(file: str, agent: bool) -> None:
    assert is_agent_file(file) is agent


def test_tidy() -> None:
    assert tidy("a\r\nb\rc\n\n") == "a\nb\nc"


# --- source lines -------------------------------------------------------------------------


def test_source_lines_are_added_under_frames_of_the_given_files(tmp_path: Path) -> None:
    host = tmp_path / "test_host.py"
    host.write_text("import x\n\n\ndef f():\n    return 1 // 0\n")
    text = textwrap.dedent(f"""\
        Traceback (most recent call last):
          File "{host}", line 5, in f
          File "main.py", line 1, in <module>
          File "{host}", line 99, in f
        ZeroDivisionError: divide by zero""")
    assert add_source_lines(text, [str(host)]).splitlines() == [
        "Traceback (most recent call last):",
        f'  File "{host}", line 5, in f',
        "    return 1 // 0",
        '  File "main.py", line 1, in <module>',  # not one of the files: nothing read
        f'  File "{host}", line 99, in f',  # past the end: nothing to show
        "ZeroDivisionError: divide by zero",
    ]
    twice = add_source_lines(add_source_lines(text, [str(host)]), [str(host)])
    assert twice == add_source_lines(text, [str(host)])


def test_mapped_then_sourced_reads_like_a_cpython_traceback(tmp_path: Path) -> None:
    host = tmp_path / "test_host.py"
    host.write_text("def f():\n    a = 1\n    return a // 0\n")
    origin = CodeOrigin(str(host), 1)
    text = add_source_lines(map_traceback(AGENT_CALL.replace("\n", "\r\n"), {"f": origin}), [origin.file])
    assert text == (
        "Traceback (most recent call last):\n"
        f'  File "{host}", line 3, in f\n'
        "    return a // 0\n"
        "ZeroDivisionError: divide by zero"
    )


def test_the_module_examples_hold() -> None:
    assert doctest.testmod(belay.tracebacks).failed == 0


# --- real board tracebacks ------------------------------------------------------------------

DEPLOY = "def f():\n    a = 1\n    return a // 0\n"
CALL = f"ns = {{}}\nexec({DEPLOY!r}, ns)\nns['f']()"


@pytest.mark.anyio
async def test_a_real_board_traceback_maps(device: Device) -> None:
    """What the unix port (LF) and the micro:bit's MicroPython 1.9.2 (CRLF) print, mapped."""
    with anyio.fail_after(30), pytest.raises(DeviceExecError) as caught:
        await device.exec(CALL)
    mapped = map_traceback(caught.value.remote_traceback, {"f": CodeOrigin("/host/t.py", 40)})
    lines = mapped.splitlines()
    assert lines[0] == "Traceback (most recent call last):"
    assert lines[1:-1] == ['  File "/host/t.py", line 42, in f']
    assert lines[-1].startswith("ZeroDivisionError: ")
