"""A labgrid lab's settings: ``[tool.belay.lab]``, ``LG_COORDINATOR``, ``BELAY_LAB_WAIT``/``_SHARE``,
``--lab-wait``/``--lab-share``, each over the last as every option is (the lab itself: tests/lab)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from belay import SessionOptions
from belay.cli import build_parser
from belay.cli.common import with_port_options
from belay.config import ConfigError, load_config
from belay.container import from_config
from belay.options import OptionError
from belay.transports import LabOptions, open_transport, with_lines
from belay.transports.base import DEFAULT_LINES
from belay.transports.lab_client import LabSettings

LAB_TABLE = '[tool.belay]\ncall_timeout = 2.0\n[tool.belay.lab]\ncoordinator = "lab-host:20408"\nwait = 60\n'


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text(LAB_TABLE)
    return tmp_path


def test_the_lab_table_sets_the_lab_options(project: Path) -> None:
    options = from_config(start=project, environ={}).options()
    assert (options.lab_coordinator, options.lab_wait, options.lab_share) == ("lab-host:20408", 60.0, False)
    assert LabOptions.of(options) == LabOptions("lab-host:20408", 60.0, False)


def test_the_flat_option_names_work_too(tmp_path: Path) -> None:
    (tmp_path / "belay.toml").write_text("lab_wait = 5\nlab_share = true\n")
    options = from_config(start=tmp_path, environ={}).options()
    assert (options.lab_coordinator, options.lab_wait, options.lab_share) == (None, 5.0, True)


def test_the_environment_is_over_the_file_and_lg_coordinator_is_labgrids_own_variable(project: Path) -> None:
    environ = {"LG_COORDINATOR": "other:1234", "BELAY_LAB_WAIT": "2.5", "BELAY_LAB_SHARE": "yes"}
    options = from_config(start=project, environ=environ).options()
    assert (options.lab_coordinator, options.lab_wait, options.lab_share) == ("other:1234", 2.5, True)
    assert load_config(environ={"BELAY_LAB_COORDINATOR": "x:1"}, use_file=False)["options"] == {}


def test_the_command_line_is_over_the_environment(project: Path) -> None:
    container = from_config(start=project, environ={"BELAY_LAB_WAIT": "2.5"})
    args = build_parser().parse_args(["exec", "--lab-wait", "7", "--lab-share", "pass"])
    options = with_port_options(container, args).options()
    assert (options.lab_wait, options.lab_share, options.lab_coordinator) == (7.0, True, "lab-host:20408")
    untouched = with_port_options(
        from_config(start=project, environ={}), build_parser().parse_args(["exec", "1"])
    )
    assert (untouched.options().lab_wait, untouched.options().lab_share) == (60.0, False)


def test_an_explicit_coordinator_is_over_lg_coordinator_and_none_falls_back_to_it() -> None:
    environ = {"LG_COORDINATOR": "env:1", "BELAY_LABGRID_CLIENT": "/opt/lg/labgrid-client"}
    assert LabSettings.of(LabOptions("file:2", 3.0, True), environ) == LabSettings(
        "file:2", "/opt/lg/labgrid-client", 3.0, True, environ
    )
    assert LabSettings.of(LabOptions(), environ).coordinator == "env:1"
    assert LabSettings.of(LabOptions(), {}).coordinator is None


@pytest.mark.parametrize(
    ("text", "message"),
    [("[tool.belay.lab]\nhost = 'x'\n", "unknown lab settings: host (known: coordinator, wait, share)"),
     ("[tool.belay]\nlab = 3\n", "lab must be a table"),
     ("[tool.belay.lab]\nwait = -1\n", "lab_wait must be a finite number of seconds, 0 or more, not -1"),
     ("[tool.belay.lab]\nwait = nan\n", "lab_wait must be a finite number of seconds, 0 or more"),
     ("[tool.belay.lab]\ncoordinator = 5\n", "lab_coordinator must be a coordinator's host:port"),
     ("[tool.belay.lab]\nshare = 'often'\n", "lab_share must be true or false")],
)  # fmt: skip
def test_a_bad_lab_table_is_refused_naming_the_file(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "pyproject.toml").write_text(text)
    with pytest.raises(
        ConfigError, match=f"^{re.escape(str(tmp_path / 'pyproject.toml'))}: {re.escape(message)}"
    ):
        load_config(start=tmp_path, environ={})


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [("BELAY_LAB_WAIT", "soon", "lab_wait must be a number of seconds, not 'soon'"),
     ("BELAY_LAB_WAIT", "-3", "lab_wait must be a finite number of seconds, 0 or more, not -3.0"),
     ("LG_COORDINATOR", "a b:1", "lab_coordinator must be a coordinator's host:port (or none), not 'a b:1'")],
)  # fmt: skip
def test_a_bad_lab_variable_is_refused_naming_it(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=f"^{name}: {re.escape(message)}$"):
        load_config(environ={name: value}, use_file=False)


def test_an_empty_lg_coordinator_means_labgrids_default() -> None:
    assert from_config(environ={"LG_COORDINATOR": ""}, use_file=False).options().lab_coordinator is None


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "soon"])
def test_a_lab_wait_flag_that_is_not_a_finite_number_of_seconds_is_a_usage_error(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["exec", "-p", "unix", "--lab-wait", value, "1"])
    assert exited.value.code == 2
    error = capsys.readouterr().err.splitlines()[-1]
    assert error.endswith(f"argument --lab-wait: a finite number of seconds, 0 or more, not '{value}'")


def test_the_options_check_the_lab_values_whoever_makes_them() -> None:
    assert SessionOptions(lab_wait=0).lab_wait == 0
    for bad in ({"lab_wait": -0.5}, {"lab_wait": True}, {"lab_coordinator": 5}, {"lab_share": "yes"}):
        with pytest.raises(OptionError, match=f"^{next(iter(bad))} must"):
            SessionOptions(**bad)


def test_the_default_transport_factory_is_given_the_lab_options() -> None:
    lab = LabOptions("lab-host:1", 5.0)
    chosen = with_lines(open_transport, DEFAULT_LINES, lab)
    assert getattr(chosen, "keywords", None) == {"lines": DEFAULT_LINES, "lab": lab}
    assert with_lines(open_transport, DEFAULT_LINES, LabOptions()) is open_transport
