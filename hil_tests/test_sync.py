"""The same session from plain ``def`` tests: ``belay_sync_session`` takes no ``await``."""

from __future__ import annotations

import time

import pytest

from belay import DeviceExecError
from belay.testing.blocking_session import SyncSession


def test_tasks_exec_and_eval(belay_sync_session: SyncSession, capfd: pytest.CaptureFixture[str]) -> None:
    @belay_sync_session.task
    def add(a, b):  # type: ignore[no-untyped-def]
        return a + b

    assert add(2, 3) == 5
    assert belay_sync_session.exec("x = 4\nprint(x)") is None  # its output was streamed: not returned again
    assert "4\n" in capfd.readouterr().out
    assert belay_sync_session.eval("x * 2") == 8
    with pytest.raises(DeviceExecError, match="ZeroDivisionError"):
        belay_sync_session.exec("1 // 0")


def test_files(belay_sync_session: SyncSession) -> None:
    path = belay_sync_session.fs.temp(b"sync")
    assert belay_sync_session.fs.get(path) == b"sync"
    assert path in belay_sync_session.fs.ls()


@pytest.mark.belay_requires("threads")
def test_a_thread_and_its_output(belay_sync_session: SyncSession) -> None:
    @belay_sync_session.thread
    def hello():  # type: ignore[no-untyped-def]
        print("hello from a thread")  # noqa: T201 - runs on the board

    name = hello()
    deadline = time.monotonic() + 5
    while belay_sync_session.board_stats()["threads"][name][0] == "running" and time.monotonic() < deadline:
        time.sleep(0.02)
    assert belay_sync_session.output() == "hello from a thread\n"


@pytest.mark.belay_requires("timer")
def test_a_timer(belay_sync_session: SyncSession) -> None:
    belay_sync_session.exec("fired = 0")

    @belay_sync_session.task
    def tick():  # type: ignore[no-untyped-def]
        global fired
        fired += 1

    timer = belay_sync_session.timer(tick, period_ms=10)
    time.sleep(0.15)
    timer.cancel()
    assert belay_sync_session.eval("fired") > 2
