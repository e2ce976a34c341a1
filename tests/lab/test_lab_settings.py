"""The lab's settings and sharing on a real lab (coordinator, exporter, ser2net on 127.0.0.1):
the coordinator from the configuration file, ``--lab-wait`` with its progress line, a place acquired
by hand shared on request, and a third xdist worker waiting for one of two places, then refused."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from lab_fixture import Lab

from belay import BelayError, DeviceSessionManager, PortBusyError, SessionOptions

BELAY = [sys.executable, "-m", "belay"]


def belay_in(folder: Path, env: dict[str, str], *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*BELAY, *arguments], capture_output=True, text=True, env=env, cwd=folder, timeout=120
    )


def test_the_coordinator_comes_from_the_configuration_file_and_lg_coordinator_is_over_it(
    lab: Lab, tmp_path: Path
) -> None:
    without = {name: value for name, value in lab.env().items() if name != "LG_COORDINATOR"}
    (tmp_path / "belay.toml").write_text(f'[lab]\ncoordinator = "{lab.coordinator}"\n')
    done = belay_in(tmp_path, without, "exec", "--port", "labgrid:bench-1", "print('from the file')")
    assert (done.returncode, done.stdout) == (0, "from the file\n"), done.stderr
    listed = belay_in(tmp_path, without, "lab", "places")
    assert listed.returncode == 0, listed.stderr
    assert [line.split() for line in listed.stdout.splitlines()] == [
        ["PLACE", "TAGS", "EXPORTER", "HELD", "BY"],
        ["bench-1", "board=unix", "exporter", "free"],
        ["bench-2", "board=unix", "exporter", "free"],
    ]
    (tmp_path / "belay.toml").write_text('[lab]\ncoordinator = "127.0.0.1:9"\n')
    done = belay_in(tmp_path, lab.env(), "exec", "--port", "labgrid:bench-1", "print('from LG_COORDINATOR')")
    assert (done.returncode, done.stdout) == (0, "from LG_COORDINATOR\n"), done.stderr
    assert lab.holders() == {}


def test_lab_wait_waits_with_a_progress_line_then_refuses(lab: Lab, tmp_path: Path) -> None:
    for place in lab.places:
        lab.client("-p", place, "acquire", LG_USERNAME="someone", LG_HOSTNAME="elsewhere")
    done = belay_in(
        tmp_path, lab.env(), "exec", "--lab-wait", "1", "--port", "labgrid:board=unix", "print(1)"
    )
    assert done.returncode == 2
    assert "no free labgrid place with board=unix yet; waiting up to 1 s for one" in done.stderr
    assert done.stderr.splitlines()[-1] == "belay: error: no free labgrid place with board=unix within 1 s"
    done = belay_in(tmp_path, lab.env(BELAY_LAB_WAIT="30"), "exec", "--lab-wait", "1", "--port",
                    "labgrid:bench-1", "print(1)")  # fmt: skip
    assert done.returncode == 2
    assert "labgrid place 'bench-1' is held by elsewhere/someone; waiting up to 1 s for it" in done.stderr
    assert (
        done.stderr.splitlines()[-1] == "belay: error: labgrid place 'bench-1' is held by elsewhere/someone"
    )
    assert "allocated" not in lab.client("reservations").stdout


@pytest.mark.anyio
@pytest.mark.usefixtures("lab_env")
async def test_a_place_acquired_by_hand_is_shared_when_both_processes_ask(lab: Lab, tmp_path: Path) -> None:
    lab.client("-p", "bench-1", "acquire")
    sharing = SessionOptions(call_timeout=30, lab_share=True)
    async with DeviceSessionManager(sharing) as manager:
        async with manager.session("labgrid:bench-1") as session:
            assert await session.eval("6 * 7") == 42
            alone = belay_in(tmp_path, lab.env(), "exec", "--port", "labgrid:bench-1", "print(1)")
            assert alone.returncode == 2
            assert (
                f"labgrid place 'bench-1' is in use by belay process {os.getpid()} on this host\n"
                in alone.stderr
            )
            shared = belay_in(
                tmp_path, lab.env(), "exec", "--lab-share", "--port", "labgrid:bench-1", "print(2)"
            )
            assert (shared.returncode, shared.stdout) == (0, "2\n"), shared.stderr
            with pytest.raises(BelayError):  # the other process left the board at the friendly REPL
                await session.eval("1")
        async with manager.session("labgrid:bench-1") as session:  # the board taken back
            assert await session.eval("3 + 3") == 6
    assert lab.holders() == {"bench-1": f"{os.uname().nodename}/{_user()}"}  # left as it was


@pytest.mark.anyio
@pytest.mark.usefixtures("lab_env")
async def test_sharing_is_refused_with_a_process_that_did_not_ask_and_on_a_place_not_acquired_by_hand(
    lab: Lab, tmp_path: Path
) -> None:
    lab.client("-p", "bench-1", "acquire")
    options = SessionOptions(call_timeout=30)
    async with DeviceSessionManager(options) as manager, manager.session("labgrid:bench-1") as session:
        assert await session.eval("1 + 1") == 2
        shared = belay_in(tmp_path, lab.env(), "exec", "--lab-share", "--port", "labgrid:bench-1", "print(2)")
        assert shared.returncode == 2
        assert shared.stderr == (f"belay: error: labgrid place 'bench-1' is in use by belay process "
                                 f"{os.getpid()} on this host, not shared\n")  # fmt: skip
        assert await session.eval("2 + 2") == 4
    with pytest.raises(
        PortBusyError, match=r"^labgrid place 'bench-2' is shared only when acquired by hand "
    ):
        async with (
            DeviceSessionManager(SessionOptions(lab_share=True)) as manager,
            manager.session("labgrid:bench-2"),
        ):
            pass
    assert list(lab.holders()) == ["bench-1"]


def _user() -> str:
    import getpass

    return getpass.getuser()


REFUSED_CONFTEST = """
import os
from pathlib import Path


def pytest_runtest_logreport(report):
    if report.when == "setup" and report.failed and "no free labgrid place" in str(report.longrepr):
        Path(os.environ["REFUSED_MARK"]).write_text("refused")
"""

HOLDING_TEST = """
import os
import time
from pathlib import Path


def test_holds_its_place_until_a_worker_is_refused(belay_sync_session):
    assert belay_sync_session.eval("1 + 1") == 2
    mark = Path(os.environ["REFUSED_MARK"])
    for _ in range(1800):  # a worker with a place keeps it until the one without was refused
        if mark.exists():
            return
        time.sleep(0.1)
    raise AssertionError("no worker was refused a place")
"""


def test_a_third_xdist_worker_waits_for_one_of_two_places_then_is_refused_at_its_deadline(
    lab: Lab, tmp_path: Path
) -> None:
    (tmp_path / "conftest.py").write_text(REFUSED_CONFTEST)
    (tmp_path / "test_hold.py").write_text(HOLDING_TEST)
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "3", "--dist", "each",
               "--belay-port", "labgrid:board=unix", "-rE", "test_hold.py"]  # fmt: skip
    env = lab.env(BELAY_LAB_WAIT="2", REFUSED_MARK=str(tmp_path / "refused"))
    run = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=600)
    out = run.stdout
    assert run.returncode == 1, out[-3000:] + run.stderr[-2000:]
    assert "2 passed, 1 error" in out, out[-3000:]
    assert ("belay: labgrid:board=unix -> bench-1 (exporter exporter), bench-2 (exporter exporter); each "
            "worker's place is in 'belay boards' below") in out  # fmt: skip
    assert "belay: 3 workers for 2 place(s) with board=unix: a worker without one waits up to 2 s" in out
    assert "no free labgrid place with board=unix yet; waiting up to 2 s for one" in out
    assert "PortBusyError: no free labgrid place with board=unix within 2 s" in out
    summary = out[out.index(" belay boards ==") :].splitlines()[1:3]
    places = sorted(line.rsplit("place ", 1)[-1] for line in summary)
    assert places == ["bench-1 on exporter exporter)", "bench-2 on exporter exporter)"], summary
    assert lab.holders() == {}


def test_belay_lab_release_all_frees_what_this_identity_holds_and_leaves_the_rest(
    lab: Lab, tmp_path: Path
) -> None:
    lab.client("-p", "bench-1", "acquire")
    lab.client("-p", "bench-2", "acquire", LG_USERNAME="someone", LG_HOSTNAME="elsewhere")
    done = belay_in(tmp_path, lab.env(), "lab", "release", "--all")
    assert (done.returncode, done.stdout) == (0, "released labgrid place bench-1\n"), done.stderr
    assert lab.holders() == {"bench-2": "elsewhere/someone"}
    done = belay_in(tmp_path, lab.env(), "lab", "release", "--all")
    assert (done.returncode, done.stdout) == (0, "this identity holds no labgrid place\n"), done.stderr
    usage = belay_in(tmp_path, lab.env(), "lab", "release")
    assert (usage.returncode, usage.stderr) == (2, "belay: error: belay lab release: give a PLACE or --all\n")


CRASHING_TEST = """
import os


def test_crashes_its_worker(belay_sync_session):
    assert belay_sync_session.eval("1 + 1") == 2
    os._exit(3)
"""


def test_the_place_of_an_xdist_worker_that_crashed_is_released_and_one_acquired_by_hand_is_not(
    lab: Lab, tmp_path: Path
) -> None:
    lab.client("-p", "bench-2", "acquire")  # by hand: not free for the tags, and left as it is
    (tmp_path / "test_crash.py").write_text(CRASHING_TEST)
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "1", "--max-worker-restart",
               "0", "--belay-port", "labgrid:board=unix", "test_crash.py"]  # fmt: skip
    run = subprocess.run(command, capture_output=True, text=True, cwd=tmp_path, env=lab.env(), timeout=300)
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr[-2000:]
    assert "belay: worker gw0 crashed holding labgrid place bench-1: released it" in run.stdout, run.stdout[
        -3000:
    ]
    assert lab.holders() == {"bench-2": f"{os.uname().nodename}/{_user()}"}
