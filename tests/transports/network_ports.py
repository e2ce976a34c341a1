"""Network ports in front of a served board, as a lab serves one: ``socket://`` through socat
(raw TCP, as ser2net's raw mode) and ``rfc2217://`` through :mod:`rfc2217_bridge`.

Each runs in a process of its own, started with a deadline for its readiness and always
ended by its pid (terminated, then killed), whatever happened in between.
"""

from __future__ import annotations

import contextlib
import os
import re
import selectors
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from belay.transports.process import end_process

BRIDGE = Path(__file__).with_name("rfc2217_bridge.py")
READY_TIMEOUT = 10.0
_LISTENING = re.compile(rb"listening on .*:(\d+)\s*$", re.MULTILINE)
_NUMBER = re.compile(rb"^(\d+)\s*$", re.MULTILINE)


def await_match(process: subprocess.Popen[bytes], pipe: int, pattern: re.Pattern[bytes]) -> re.Match[bytes]:
    """Read ``pipe`` (a file descriptor of ``process``) until ``pattern`` matches, by a deadline."""
    seen = b""
    deadline = time.monotonic() + READY_TIMEOUT
    with selectors.DefaultSelector() as selector:
        selector.register(pipe, selectors.EVENT_READ)
        while (found := pattern.search(seen)) is None:
            left = deadline - time.monotonic()
            if left <= 0 or not selector.select(left):
                raise TimeoutError(f"{process.args!r} not ready within {READY_TIMEOUT}s: {seen!r}")
            chunk = os.read(pipe, 4096)
            if not chunk:
                raise RuntimeError(f"{process.args!r} ended (status {process.wait()}): {seen!r}")
            seen += chunk
    return found


def free_tcp_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def socat_socket_port(pty_path: str, *, nodelay: bool = False) -> Iterator[str]:
    """``socat TCP-LISTEN FILE:<pty>,raw,echo=0`` in front of ``pty_path``: its ``socket://`` URL.

    Nagle stays on unless ``nodelay`` (socat's default, and a common ser2net setup)."""
    if shutil.which("socat") is None:
        raise RuntimeError("socat is not installed")
    listen = f"TCP-LISTEN:{free_tcp_port()},bind=127.0.0.1,reuseaddr" + (",nodelay" if nodelay else "")
    command = ["socat", "-d", "-d", listen, f"FILE:{pty_path},raw,echo=0"]
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        assert process.stderr is not None
        found = await_match(process, process.stderr.fileno(), _LISTENING)
        yield f"socket://127.0.0.1:{int(found.group(1))}"
    finally:
        end_process(process)


@contextlib.contextmanager
def rfc2217_port(pty_path: str) -> Iterator[str]:
    """The RFC 2217 bridge in front of ``pty_path``: its ``rfc2217://`` URL."""
    command = [sys.executable, str(BRIDGE), pty_path]
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE)
    try:
        assert process.stdout is not None
        found = await_match(process, process.stdout.fileno(), _NUMBER)
        yield f"rfc2217://127.0.0.1:{int(found.group(1))}"
    finally:
        end_process(process)


@contextlib.contextmanager
def network_port(kind: str, pty_path: str) -> Iterator[str]:
    """``kind`` ("socket" or "rfc2217") in front of ``pty_path``; "pty" is the pty itself."""
    if kind == "pty":
        yield pty_path
    elif kind == "socket":
        with socat_socket_port(pty_path) as url:
            yield url
    else:
        with rfc2217_port(pty_path) as url:
            yield url
