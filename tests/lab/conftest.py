"""The lab fixture: skips, saying why, where labgrid or ser2net is not installed."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from lab_fixture import Lab, labgrid_bin, running_lab

MISSING = "labgrid (in .venv-labgrid, made by scripts/test.sh, or on PATH) and ser2net are not installed"


@pytest.fixture(scope="session")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    if labgrid_bin() is None:
        pytest.skip(MISSING)
    with running_lab(tmp_path_factory.mktemp("lab"), {"bench-1": "unix", "bench-2": "unix"}) as lab:
        yield lab


@pytest.fixture
def lab(running: Lab) -> Iterator[Lab]:
    """The run's lab, every place free at the start and released again (by whoever holds it) after."""
    running.release_all()
    yield running
    running.release_all()


@pytest.fixture
def lab_env(lab: Lab, monkeypatch: pytest.MonkeyPatch) -> None:
    """The lab's settings (``LG_COORDINATOR``, ...) in this process's environment, for sessions
    the test opens itself."""
    for name, value in lab.env().items():
        monkeypatch.setenv(name, value)
