"""belay's configuration: a dict, then belay.toml or [tool.belay] found upwards, then BELAY_*."""

from __future__ import annotations

from pathlib import Path

import pytest

from belay.config import ConfigError, find_config_file, load_config, read_config_file

PYPROJECT = """
[project]
name = "rig"

[tool.belay]
call_timeout = 2.0
lease = 12
port = "lab"
journal_path = "logs/belay.jsonl"

[tool.belay.ports]
lab = "rfc2217://10.0.0.5:4000"
bench = "unix"
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    (tmp_path / "tests" / "deep").mkdir(parents=True)
    return tmp_path


def test_the_pyproject_table_is_found_from_a_folder_below_it(project: Path) -> None:
    assert find_config_file(project / "tests" / "deep") == project / "pyproject.toml"
    config = load_config(start=project / "tests" / "deep", environ={})
    assert config["options"] == {
        "call_timeout": 2.0, "lease": 12, "journal_path": str(project / "logs" / "belay.jsonl")
    }  # fmt: skip
    assert config["ports"] == {"lab": "rfc2217://10.0.0.5:4000", "bench": "unix"}
    assert config["port"] == "lab" and config["file"] == str(project / "pyproject.toml")


def test_precedence_is_dict_then_file_then_environment(project: Path) -> None:
    given = {"call_timeout": 1.0, "cleanup_timeout": 9.0, "ports": {"lab": "unix", "spare": "microbit"}}
    config = load_config(given, start=project, environ={"BELAY_CALL_TIMEOUT": "3.5", "BELAY_PORT": "bench"})
    assert config["options"]["call_timeout"] == "3.5"  # the environment's, converted by SessionOptions
    assert config["options"]["cleanup_timeout"] == 9.0 and config["options"]["lease"] == 12
    assert config["ports"] == {"lab": "rfc2217://10.0.0.5:4000", "spare": "microbit", "bench": "unix"}
    assert config["port"] == "bench"


def test_a_belay_toml_wins_over_the_pyproject_beside_it_and_a_table_less_pyproject_is_passed(
    tmp_path: Path,
) -> None:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    (tmp_path / "belay.toml").write_text("call_timeout = 7.0\n[ports]\nlab = 'microbit'\n")
    inner = tmp_path / "sub"
    inner.mkdir()
    (inner / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    assert find_config_file(inner) == tmp_path / "belay.toml"
    assert read_config_file(tmp_path / "belay.toml")["ports"] == {"lab": "microbit"}
    assert load_config(start=inner, environ={})["options"] == {"call_timeout": 7.0}


def test_no_file_anywhere_means_the_dict_and_environment_only(tmp_path: Path) -> None:
    config = load_config({"lease": 5}, start=tmp_path, environ={}, use_file=False)
    assert config == {"options": {"lease": 5}, "ports": {}, "file": None}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[tool.belay]\ncall_timout = 1\n", "unknown belay settings: call_timout"),
        ("[tool.belay]\ncall_timeout = -1\n", "pyproject.toml: call_timeout must be a finite number"),
        ("[tool.belay.ports]\nlab = 4000\n", "ports must map alias names to port strings"),
        ("[tool.belay\n", "not valid TOML"),
    ],
)
def test_a_bad_file_is_refused_naming_it(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "pyproject.toml").write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(start=tmp_path, environ={})


def test_a_bad_environment_value_is_refused() -> None:
    with pytest.raises(ConfigError, match="BELAY_ENABLE_METRICS: enable_metrics must be true or false"):
        load_config(environ={"BELAY_ENABLE_METRICS": "perhaps"}, use_file=False)


@pytest.mark.parametrize(
    ("name", "value"),
    [("BELAY_CALL_TIMEOUT", "nan"), ("BELAY_LEASE", "inf"), ("BELAY_SYNC_TIMEOUT", "nan"),
     ("BELAY_CLEANUP_TIMEOUT", "nan"), ("BELAY_SESSION_TIMEOUT", "-inf")],
)  # fmt: skip
def test_a_time_that_is_not_finite_is_refused_naming_the_variable(name: str, value: str) -> None:
    """NaN passed every ``<= 0`` check (so no deadline at all); inf overflowed much later."""
    option = name.removeprefix("BELAY_").lower()
    with pytest.raises(ConfigError, match=f"^{name}: {option} must be a finite number of seconds above 0"):
        load_config(environ={name: value}, use_file=False)


@pytest.mark.parametrize(
    ("line", "message"),
    [("journal_path = 42", "journal_path must be a file path"),
     ("call_timeout = nan", "call_timeout must be"), ("lease = true", "lease must be"),
     ("max_concurrent_sessions = 2.5", "max_concurrent_sessions must"),
     ("dtr = 1", "dtr must be true or false"), ("keep_modules = 1", "keep_modules must be true or false"),
     ("thread_output_limit = 2.5", "thread_output_limit must")],
)  # fmt: skip
def test_a_value_of_the_wrong_type_in_the_file_is_refused_naming_the_file(
    tmp_path: Path, line: str, message: str
) -> None:
    (tmp_path / "pyproject.toml").write_text(f"[tool.belay]\n{line}\n")
    with pytest.raises(ConfigError, match=f"^{tmp_path / 'pyproject.toml'}: {message}"):
        load_config(start=tmp_path, environ={})


def test_the_cli_reports_a_bad_option_in_one_line_with_status_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from belay.cli import main

    monkeypatch.setenv("BELAY_LEASE", "inf")
    assert main(["history"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "belay: error: BELAY_LEASE: lease must be a finite number of seconds above 0, not inf"
    ]


@pytest.mark.parametrize("command", ["exec", "run"])
@pytest.mark.parametrize("value", ["nan", "inf", "0", "-1"])
def test_a_timeout_flag_that_is_not_a_finite_positive_number_is_a_usage_error(
    command: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from belay.cli import main

    with pytest.raises(SystemExit) as exited:
        main([command, "-p", "unix", "--timeout", value, "x.py" if command == "run" else "1"])
    assert exited.value.code == 2
    error = capsys.readouterr().err.splitlines()[-1]
    assert error.endswith(f"argument -t/--timeout: a finite number of seconds above 0, not '{value}'")


def test_the_plugin_reports_a_bad_option_in_one_line(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_it(belay_container):\n    pass\n")
    pytester.makepyprojecttoml("[tool.belay]\njournal_path = 42\n")
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*belay configuration: *pyproject.toml: journal_path must be a file path*"])
    assert "Traceback" not in result.stdout.str() and "raise ConfigError" not in result.stdout.str()
