"""``belay repl`` for real: the command runs on a pty as in a terminal, keys are typed into it and
the screen is read back, on both virtual boards."""

from __future__ import annotations

import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import termios
import time
from collections.abc import Iterator

import pytest

from belay.transports.process import end_process

BELAY = [sys.executable, "-m", "belay"]


class Terminal:
    """``belay repl`` running on a pty of its own: type keys, read the screen."""

    def __init__(self, *args: str) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: belay, its stdin and stdout the pty
            os.execv(sys.executable, [*BELAY, "repl", *args])
        self.screen = b""

    def type(self, keys: bytes) -> None:
        os.write(self.fd, keys)

    def wait_for(self, text: bytes, timeout: float = 20.0) -> bytes:
        """The screen up to ``text``, once it shows; fails the test past ``timeout``."""
        deadline = time.monotonic() + timeout
        while text not in self.screen:
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(f"{text!r} never showed; the screen: {self.screen[-600:]!r}")
            if select.select([self.fd], [], [], left)[0]:
                try:
                    self.screen += os.read(self.fd, 4096)
                except OSError:  # the child ended: its side of the pty is gone
                    pytest.fail(f"belay ended before {text!r} showed: {self.screen[-600:]!r}")
        shown, _, self.screen = self.screen.partition(text)
        return shown + text

    def exit_status(self, timeout: float = 15.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.pid = 0
                return os.waitstatus_to_exitcode(status)
            time.sleep(0.02)
        pytest.fail("belay repl did not end")

    def cooked(self) -> bool:
        """Whether the terminal reads lines and echoes them again (not in raw mode)."""
        lflag = termios.tcgetattr(self.fd)[3]
        return bool(lflag & termios.ICANON and lflag & termios.ECHO)

    def close(self) -> None:
        if self.pid:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        os.close(self.fd)


@pytest.fixture
def terminal(request: pytest.FixtureRequest) -> Iterator[Terminal]:
    """``belay repl --port <param>`` on a pty, killed by its pid if the test leaves it running."""
    term = Terminal("--port", request.param)
    try:
        yield term
    finally:
        term.close()


@pytest.mark.parametrize(
    "terminal", ["unix", pytest.param("microbit", marks=pytest.mark.microbit)], indirect=True
)
def test_repl_passes_keys_through_and_ctrl_bracket_leaves(terminal: Terminal) -> None:
    assert b"Ctrl-] leaves" in terminal.wait_for(b"Ctrl-] leaves")
    terminal.wait_for(b">>> ", timeout=30)
    terminal.type(b"6*7\r")
    assert b"42\r\n>>> " in terminal.wait_for(b"42\r\n>>> ")  # CR LF on both boards: a raw terminal
    terminal.type(b"import time\r")
    terminal.wait_for(b">>> ")
    terminal.type(b"time.sleep(60)\r")
    time.sleep(0.5)
    terminal.type(b"\x03")  # Ctrl-C reaches the board: its code is interrupted
    assert b"KeyboardInterrupt" in terminal.wait_for(b"KeyboardInterrupt", timeout=10)
    terminal.wait_for(b">>> ")
    terminal.type(b"x = 5\r")
    terminal.wait_for(b">>> ")
    terminal.type(b"\x04")  # Ctrl-D at the friendly REPL: a soft reboot, which clears x
    assert b"soft reboot" in terminal.wait_for(b"soft reboot")
    terminal.wait_for(b">>> ")
    terminal.type(b"'x' in globals()\r")
    assert b"False" in terminal.wait_for(b"False")
    terminal.type(b"\x1d")
    assert b"left the REPL" in terminal.wait_for(b"left the REPL")
    assert terminal.exit_status() == 0
    assert terminal.cooked()  # the terminal is as it was before


@pytest.mark.parametrize("kind", ["unix", pytest.param("microbit", marks=pytest.mark.microbit)])
def test_board_is_left_at_its_friendly_repl_for_other_tools(kind: str) -> None:
    server = subprocess.Popen([*BELAY, "virtual-board", "--kind", kind], stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        path = server.stdout.readline().strip()
        # A belay call first: it leaves the board in raw mode, from where repl brings it back.
        assert subprocess.run([*BELAY, "exec", "-p", path, "--keep", "y = 3"], timeout=60).returncode == 0
        term = Terminal("--port", path)
        try:
            term.wait_for(b">>> ", timeout=30)
            term.type(b"y * 2\r")
            term.wait_for(b"6\r\n>>> ")
            term.type(b"\x1d")
            assert term.exit_status() == 0
        finally:
            term.close()
        # mpremote resets a board as it enters raw mode unless told to resume: then y is kept.
        mpremote = shutil.which("mpremote", path=os.path.dirname(sys.executable)) or "mpremote"
        done = subprocess.run([mpremote, "connect", path, "resume", "exec", "print(y + 1)"],
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        assert (done.returncode, done.stdout.strip()) == (0, "4"), done.stderr
    finally:
        end_process(server, grace=20)


def test_repl_with_input_not_a_terminal_ends_with_the_input() -> None:
    done = subprocess.run([*BELAY, "repl", "-p", "unix"], input=b"print('piped')\r", capture_output=True,
                          timeout=30)  # fmt: skip
    assert done.returncode == 0
    assert b"Ctrl-] leaves" in done.stderr
    assert b"Traceback" not in done.stderr


@pytest.mark.parametrize("terminal", ["unx"], indirect=True)
def test_a_bad_port_is_one_line_and_the_terminal_is_left_as_it_was(terminal: Terminal) -> None:
    shown = terminal.wait_for(b"(did you mean unix?)")
    assert shown.strip() == b"belay: error: no such port: unx (did you mean unix?)"  # no "connected"
    assert terminal.exit_status() == 2
    assert terminal.cooked()


def test_repl_opens_a_serial_port_with_the_dtr_and_rts_levels_given(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    """``--dtr``/``--rts`` reach the serial port ``belay repl`` opens, as they do for ``exec``."""
    from belay.cli import main
    from belay.errors import PortBusyError
    from belay.transports import ModemLines
    from belay.transports.serial import SerialTransport

    asked: list[tuple[str, ModemLines]] = []

    async def recording_open(port: str, *, lines: ModemLines, **how: object) -> SerialTransport:
        asked.append((port, lines))
        raise PortBusyError(f"{port} is held (by the test)", port=port)

    monkeypatch.setattr(SerialTransport, "open", recording_open)
    master, slave = os.openpty()  # a path that exists, so that it is taken as a serial port
    path = os.ttyname(slave)
    try:
        with open(os.devnull) as nothing:  # pytest's stdin has no file descriptor
            monkeypatch.setattr(sys, "stdin", nothing)
            assert main(["repl", "-p", path, "--dtr", "0", "--rts", "on"]) == 2
            assert main(["repl", "-p", path]) == 2
    finally:
        os.close(master)
        os.close(slave)
    assert asked == [(path, ModemLines(dtr=False, rts=True)), (path, ModemLines(dtr=True, rts=True))]
    assert capfd.readouterr().err.count(f"belay: error: {path} is held (by the test)") == 2
