"""Choosing a port by an alias of the configuration's ``[ports]``, in one place for every
command, and what a command that opens no board imports."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from belay.cli import main
from belay.cli.common import choose_port
from belay.errors import PortNotFoundError


@pytest.fixture
def aliased(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project whose configuration names the unix board ``bench``."""
    (tmp_path / "belay.toml").write_text("[ports]\nbench = 'unix'\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BELAY_PORT", raising=False)
    return tmp_path


def test_an_alias_its_prefix_and_belay_port_all_resolve() -> None:
    aliases = {"bench": "unix", "lab": "rfc2217://10.0.0.5:4000"}
    assert choose_port("bench", {}, aliases) == ("unix", "--port")
    assert choose_port("la", {}, aliases) == ("rfc2217://10.0.0.5:4000", "--port")  # a unique prefix
    assert choose_port(None, {"BELAY_PORT": "lab"}, aliases) == ("rfc2217://10.0.0.5:4000", "$BELAY_PORT")


def test_a_mistyped_alias_is_refused_with_the_alias_it_may_mean() -> None:
    with pytest.raises(PortNotFoundError, match=r"no such port: bnech \(did you mean bench\?\)"):
        choose_port("bnech", {}, {"bench": "unix"})


def test_exec_suggests_an_alias_for_a_mistyped_one(aliased: Path, capfd: pytest.CaptureFixture[str]) -> None:
    assert main(["exec", "-p", "bnech", "print(1)"]) == 2
    assert capfd.readouterr().err == "belay: error: no such port: bnech (did you mean bench?)\n"


def test_exec_takes_a_prefix_of_an_alias(aliased: Path, capfd: pytest.CaptureFixture[str]) -> None:
    assert main(["exec", "-p", "ben", "print(6 * 7)"]) == 0
    assert capfd.readouterr().out == "42\n"


def test_ports_needs_no_configuration_nor_the_session_stack(aliased: Path) -> None:
    """``belay ports`` runs with a broken configuration file, and imports neither the container
    (dependency-injector, asyncio) nor the session stack."""
    (aliased / "belay.toml").write_text("leese = 3\n")
    probe = (
        "import sys\nfrom belay.cli import main\ncode = main(['ports'])\n"
        "heavy = [m for m in ('belay.container', 'belay.session.manager', 'asyncio', 'dependency_injector',"
        " 'opentelemetry', 'rich') if m in sys.modules]\nprint('heavy:', heavy)\nsys.exit(code)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                          cwd=aliased, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "virtual boards:\tunix, microbit" in done.stdout and "heavy: []" in done.stdout


def test_exec_imports_no_telemetry_retries_or_rich(tmp_path: Path) -> None:
    """``belay exec`` without metrics loads neither OpenTelemetry, tenacity nor rich, nor the
    session's generators; platformdirs (~6 ms) only where the unix board looks up its interpreter's
    lock offsets in the user's cache (which saves ~200 ms of reading debug information)."""
    probe = (
        "import sys\nfrom belay.cli import main\ncode = main(['exec', '-p', 'unix', 'print(1)'])\n"
        "unused = [m for m in ('opentelemetry', 'tenacity', 'rich',"
        " 'belay.session.functions.generators') if m in sys.modules]\n"
        "print('unused:', unused)\nsys.exit(code)\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout == "1\nunused: []\n"
