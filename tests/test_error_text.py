"""What errors say: a board error's text carries the board's traceback, no error's text or repr
holds the code sent to the board, and secrets (session tokens) are taken out of what a board
sends back."""

from __future__ import annotations

import secrets
import traceback

import pytest

import belay
from belay.errors import (
    REDACTED,
    BelayError,
    DeviceExecError,
    DeviceTimeoutError,
    DeviceValueError,
    NotMicroPythonError,
    ProtocolError,
    RemoteFileNotFoundError,
    ResourceCleanupError,
    SessionError,
    redact,
    redact_error,
)

BOARD_TRACEBACK = (
    "Traceback (most recent call last):\r\n"
    '  File "<stdin>", line 1, in <module>\r\n'
    '  File "<string>", line 3, in f\r\n'
    "ZeroDivisionError: divide by zero\r\n"
)


def board_error() -> DeviceExecError:
    return DeviceExecError.from_traceback(BOARD_TRACEBACK.encode())


# --- the board's traceback in the text ----------------------------------------------------


def test_the_text_is_the_summary_then_the_board_traceback() -> None:
    error = board_error()
    assert str(error) == (
        "ZeroDivisionError: divide by zero\n"
        "\n"
        "Board traceback (most recent call last):\n"
        '  File "<stdin>", line 1, in <module>\n'
        '  File "<string>", line 3, in f\n'
        "ZeroDivisionError: divide by zero"
    )
    assert str(error).splitlines()[0] == error.summary == "ZeroDivisionError: divide by zero"


def test_the_attributes_stay() -> None:
    error = board_error()
    assert error.remote_type == "ZeroDivisionError"
    assert error.remote_message == "divide by zero"
    assert error.remote_traceback.startswith("Traceback (most recent call last):\n")
    assert "\r" not in error.remote_traceback


def test_a_traceback_given_with_crlf_is_kept_with_lf() -> None:
    error = DeviceExecError("ZeroDivisionError", "divide by zero", BOARD_TRACEBACK)
    assert error.remote_traceback == BOARD_TRACEBACK.replace("\r\n", "\n")
    assert "\r" not in str(error)


@pytest.mark.parametrize("board", ["", "ValueError: bad", "\n\n"])
def test_without_a_traceback_the_text_is_the_summary(board: str) -> None:
    assert str(DeviceExecError("ValueError", "bad", board)) == "ValueError: bad"
    assert str(DeviceExecError("RuntimeError", "", "")) == "RuntimeError"


def test_a_traceback_without_its_header_is_still_labelled() -> None:
    error = DeviceExecError("OSError", "5", '  File "main.py", line 2\nOSError: 5')
    assert str(error).split("\n")[2:] == ["Board traceback:", '  File "main.py", line 2', "OSError: 5"]


def test_the_text_follows_a_changed_traceback() -> None:
    """The session layer maps the board's traceback to the host after the error was made."""
    error = board_error()
    error.remote_traceback = error.remote_traceback.replace('"<string>", line 3', '"/h/t.py", line 12')
    assert '  File "/h/t.py", line 12, in f' in str(error)


def test_a_truncated_traceback_keeps_its_mark_in_the_text() -> None:
    error = DeviceExecError.from_traceback(BOARD_TRACEBACK.encode()[:70], truncated_at=70)
    assert str(error).endswith("[belay: traceback truncated: at most 70 bytes are kept]")


def test_the_text_reads_in_a_python_traceback() -> None:
    try:
        raise board_error()
    except DeviceExecError as error:
        printed = "".join(traceback.format_exception(error))
    assert printed.rstrip().endswith(
        "belay.errors.DeviceExecError: ZeroDivisionError: divide by zero\n\n"
        "Board traceback (most recent call last):\n"
        '  File "<stdin>", line 1, in <module>\n'
        '  File "<string>", line 3, in f\n'
        "ZeroDivisionError: divide by zero"
    )


def test_the_repr_is_one_line() -> None:
    assert repr(board_error()) == "DeviceExecError('ZeroDivisionError: divide by zero')"


# --- subclasses ------------------------------------------------------------------------------


class BoardKeyError(DeviceExecError):
    def __init__(self, error: DeviceExecError, key: str) -> None:
        super().__init__(error.remote_type, error.remote_message, error.remote_traceback)
        self.key = key


def test_a_subclass_keeps_the_attributes_and_the_traceback_text() -> None:
    error = BoardKeyError(board_error(), "k")
    assert (error.remote_type, error.key) == ("ZeroDivisionError", "k")
    assert "Board traceback" in str(error)


def test_remote_file_not_found_is_a_file_not_found_error_in_one_line() -> None:
    cause = DeviceExecError.from_traceback(
        b'Traceback (most recent call last):\r\n  File "<stdin>", line 1, in <module>\r\n'
        b"OSError: [Errno 2] ENOENT\r\n"
    )
    error = RemoteFileNotFoundError("data/missing.bin", "unix", cause)
    assert isinstance(error, FileNotFoundError) and isinstance(error, DeviceExecError)
    assert isinstance(error, BelayError)
    assert (error.path, error.port) == ("data/missing.bin", "unix")
    assert (error.remote_type, error.remote_message) == ("OSError", "[Errno 2] ENOENT")
    assert error.remote_traceback == cause.remote_traceback
    assert str(error) == "no file 'data/missing.bin' on the board at unix (OSError: [Errno 2] ENOENT)"
    with pytest.raises(FileNotFoundError, match="missing"):
        raise error
    assert belay.RemoteFileNotFoundError is RemoteFileNotFoundError


# --- no code in a repr -------------------------------------------------------------------------

CODE = "_ba.x('SECRET-tok1', 'print(42)')"


def test_no_repr_holds_what_was_sent_or_received() -> None:
    errors: list[BelayError] = [
        ProtocolError("the board sent bytes outside the raw REPL", received=CODE.encode()),
        NotMicroPythonError("nothing like a raw REPL answered", port="/dev/x", received=CODE.encode()),
        DeviceExecError("ValueError", "v", f'Traceback (most recent call last):\n  File "<stdin>"\n{CODE}'),
        DeviceTimeoutError("call on unix did not finish within 1s", timeout=1.0),
        DeviceValueError("the board printed no value", port="unix"),
    ]
    for error in errors:
        assert "SECRET" not in repr(error), repr(error)
        assert "print(42)" not in repr(error)


def test_a_cleanup_error_lists_its_failures_by_repr_not_their_tracebacks() -> None:
    error = ResourceCleanupError("2 resources", [("thread t-1", board_error()), ("file x", OSError(5))])
    assert str(error).splitlines() == [
        "2 resources",
        "  thread t-1: DeviceExecError('ZeroDivisionError: divide by zero')",
        "  file x: OSError(5)",
    ]


# --- secrets ---------------------------------------------------------------------------------


def test_redact_replaces_every_occurrence() -> None:
    token = secrets.token_urlsafe(8)
    assert len(token) == 11
    text = f"KeyError: {token!r}\n  in {token}{token}"
    assert redact(text, [token]) == "KeyError: '<token>'\n  in <token><token>"
    assert redact(text, [token]) == redact(text, (t for t in [token, token]))


def test_redact_ignores_empty_secrets_and_replaces_the_longest_first() -> None:
    assert redact("abc", ["", ""]) == "abc"
    assert redact("xx-abcdef-xx", ["abc", "abcdef"]) == "xx-<token>-xx"
    assert redact("tok", ["tok"], placeholder="***") == "***"
    assert REDACTED == "<token>"


def test_redact_error_scrubs_message_attributes_and_repr() -> None:
    token = "Ab3_-xYz901"
    error = DeviceExecError.from_traceback(
        f'Traceback (most recent call last):\r\n  File "belay_agent.py", line 41, in get\r\n'
        f"KeyError: {token}\r\n".encode()
    )
    assert redact_error(error, [token]) is error
    assert (error.remote_type, error.remote_message) == ("KeyError", "<token>")
    for text in (str(error), repr(error), error.remote_traceback, *map(str, error.args)):
        assert token not in text
    assert "KeyError: <token>" in str(error)


def test_redact_error_scrubs_bytes_notes_failures_and_causes() -> None:
    token = "Zz9-Zz9_Zz9"
    cause = ProtocolError(f"bad {token}", received=f"_ba.x({token!r})".encode())
    failure = SessionError(f"session {token} gone", session_id="s1")
    error = ResourceCleanupError("cleanup failed", [(f"thread of {token}", failure)])
    error.__cause__ = cause
    error.add_note(f"note {token}")
    redact_error(error, [token])
    printed = "".join(traceback.format_exception(error))
    assert token not in printed and "<token>" in printed
    assert token.encode() not in cause.received
    assert failure.args == ("session <token> gone",)
    assert error.failures[0][0] == "thread of <token>"
    assert failure.session_id == "s1"


def test_redact_error_survives_a_cycle_and_leaves_other_values_alone() -> None:
    error = DeviceTimeoutError("t secret", timeout=2.5)
    error.__context__ = error
    redact_error(error, ["secret"])
    assert (str(error), error.timeout) == ("t <token>", 2.5)
    assert redact_error(ValueError("nothing"), []).args == ("nothing",)
