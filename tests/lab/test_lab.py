"""belay on a real labgrid lab (coordinator, exporter, ser2net on 127.0.0.1, unix boards on ptys):
``labgrid:PLACE`` and ``labgrid:KEY=VALUE`` ports, the place released afterwards, one host per
place, and a place a dead host left acquired freed with ``belay lab release``."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from lab_fixture import Lab

from belay import BelayError, DeviceSessionManager, PortBusyError, SessionOptions

BELAY = [sys.executable, "-m", "belay"]
SLEEPER = "import time\nprint('in')\ntime.sleep(60)"


def belay(lab: Lab, *arguments: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*BELAY, *arguments], capture_output=True, text=True, env=lab.env(**env), timeout=120
    )


def test_exec_through_a_named_place_acquires_it_and_releases_it(lab: Lab) -> None:
    done = belay(lab, "exec", "--port", "labgrid:bench-1", "import sys; print(sys.platform, 6 * 7)")
    assert (done.returncode, done.stdout) == (0, "linux 42\n"), done.stderr
    assert lab.holders() == {}


def test_exec_through_tags_takes_a_free_place_and_leaves_no_reservation(lab: Lab) -> None:
    lab.client("-p", "bench-1", "acquire", LG_USERNAME="someone", LG_HOSTNAME="elsewhere")
    done = belay(lab, "exec", "--port", "labgrid:board=unix", "print('tagged')")
    assert (done.returncode, done.stdout) == (0, "tagged\n"), done.stderr
    assert lab.holders() == {"bench-1": "elsewhere/someone"}
    assert "allocated" not in lab.client("reservations").stdout


def test_a_place_another_identity_holds_is_refused_naming_the_holder(lab: Lab) -> None:
    lab.client("-p", "bench-1", "acquire", LG_USERNAME="someone", LG_HOSTNAME="elsewhere")
    done = belay(lab, "exec", "--port", "labgrid:bench-1", "print(1)")
    assert done.returncode == 2
    assert done.stderr.strip() == "belay: error: labgrid place 'bench-1' is held by elsewhere/someone"
    lab.client("-p", "bench-2", "acquire", LG_USERNAME="someone", LG_HOSTNAME="elsewhere")
    done = belay(lab, "exec", "--port", "labgrid:board=unix", "print(1)", BELAY_LAB_WAIT="1")
    assert done.returncode == 2 and "no free labgrid place with board=unix within 1 s" in done.stderr


def test_with_a_wait_a_place_freed_meanwhile_is_taken(lab: Lab) -> None:
    lab.client("-p", "bench-1", "acquire", LG_USERNAME="someone", LG_HOSTNAME="elsewhere")
    waiting = subprocess.Popen([*BELAY, "exec", "--port", "labgrid:bench-1", "print('got it')"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=lab.env(BELAY_LAB_WAIT="60"))  # fmt: skip
    try:
        time.sleep(2)
        assert waiting.poll() is None, waiting.communicate()
        lab.client("-p", "bench-1", "release", LG_USERNAME="someone", LG_HOSTNAME="elsewhere")
        out, err = waiting.communicate(timeout=60)
    finally:
        waiting.kill()
        waiting.wait()
    assert (waiting.returncode, out) == (0, "got it\n"), err
    assert "waiting up to" in err


def test_a_place_acquired_by_hand_is_used_and_left_acquired(lab: Lab) -> None:
    lab.client("-p", "bench-2", "acquire")
    done = belay(lab, "exec", "--port", "labgrid:bench-2", "print('mine')")
    assert (done.returncode, done.stdout) == (0, "mine\n"), done.stderr
    assert list(lab.holders()) == ["bench-2"]


def test_a_second_belay_process_on_the_same_place_is_refused_naming_the_first(lab: Lab) -> None:
    first = subprocess.Popen([*BELAY, "exec", "--port", "labgrid:bench-1", SLEEPER],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=lab.env())  # fmt: skip
    try:
        assert first.stdout is not None and first.stdout.readline() == b"in\n"
        second = belay(lab, "exec", "--port", "labgrid:bench-1", "print(1)")
        assert second.returncode == 2
        assert f"labgrid place 'bench-1' is in use by belay process {first.pid} on this host" in second.stderr
    finally:
        first.send_signal(signal.SIGINT)
        first.wait(timeout=30)
    assert lab.holders() == {}


def test_a_place_a_killed_host_held_is_freed_with_belay_lab_release(lab: Lab) -> None:
    host = subprocess.Popen([*BELAY, "exec", "--port", "labgrid:bench-1", SLEEPER],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=lab.env())  # fmt: skip
    try:
        assert host.stdout is not None and host.stdout.readline() == b"in\n"
        os.kill(host.pid, signal.SIGKILL)
    finally:
        host.kill()
        host.wait(timeout=10)
    assert list(lab.holders()) == ["bench-1"]  # labgrid has no lease on places
    listed = belay(lab, "lab", "places")
    assert listed.returncode == 0 and "bench-1" in listed.stdout and "bench-2" in listed.stdout
    released = belay(lab, "lab", "release", "bench-1")
    assert (released.returncode, released.stdout) == (0, "released labgrid place bench-1\n"), released.stderr
    assert lab.holders() == {}
    done = belay(lab, "exec", "--port", "labgrid:bench-1", "print('again')")
    assert done.stdout == "again\n", done.stderr


@pytest.mark.usefixtures("lab_env")
async def test_sessions_through_a_place_in_process(lab: Lab) -> None:
    options = SessionOptions(call_timeout=30)
    async with DeviceSessionManager(options) as manager, manager.session("labgrid:board=unix") as session:
        assert await session.eval("6 * 7") == 42
        taken = set(lab.holders())
        assert len(taken) == 1
        with pytest.raises(PortBusyError, match="in use by belay process"):
            async with DeviceSessionManager() as other, other.session(f"labgrid:{taken.pop()}"):
                pass
    assert lab.holders() == {}


@pytest.mark.usefixtures("lab_env")
async def test_after_the_exporter_restarts_the_next_session_finds_the_board_at_its_new_address(
    lab: Lab,
) -> None:
    async with DeviceSessionManager(SessionOptions(call_timeout=30)) as manager:
        async with manager.session("labgrid:bench-1") as session:
            assert await session.eval("1 + 1") == 2
            before = lab.client("-p", "bench-1", "show").stdout
            lab.restart_exporter()
            with pytest.raises(BelayError):
                await session.eval("2 + 2")
        assert lab.client("-p", "bench-1", "show").stdout != before
        async with manager.session("labgrid:bench-1") as session:
            assert await session.eval("3 + 3") == 6
    assert lab.holders() == {}


def test_belays_own_environment_stays_sound() -> None:
    checked = subprocess.run(
        [sys.executable, "-m", "pip", "check"], capture_output=True, text=True, timeout=120
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    import serial

    assert not hasattr(serial, "labgrid"), "labgrid's pyserial fork replaced pyserial in belay's environment"


pytestmark = pytest.mark.anyio
anyio_backend = "asyncio"


def test_the_hil_suite_runs_on_two_xdist_workers_each_on_a_place_of_its_own(lab: Lab, tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    junit = tmp_path / "junit.xml"
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "hil_tests", "-n", "2",
               "--belay-port", "labgrid:board=unix", f"--junitxml={junit}"]  # fmt: skip
    run = subprocess.run(command, capture_output=True, text=True, cwd=root, env=lab.env(), timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "gw0: micropython" in run.stdout and "gw1: micropython" in run.stdout
    assert " passed" in run.stdout and "failed" not in run.stdout
    assert lab.holders() == {}
    suite = {str(prop.get("name")): str(prop.get("value")) for prop in ET.parse(junit).iter("property")}
    assert {suite["belay_place_gw0"], suite["belay_place_gw1"]} == {"bench-1", "bench-2"}
    assert suite["belay_exporter_gw0"] == suite["belay_exporter_gw1"] == "exporter"
    for worker in ("gw0", "gw1"):
        where = f"(labgrid:board=unix: place {suite[f'belay_place_{worker}']} on exporter exporter)"
        assert f"{worker}: micropython" in run.stdout and suite[f"belay_board_{worker}"].endswith(where)
        assert f"{worker}: {suite[f'belay_board_{worker}']}" in run.stdout
