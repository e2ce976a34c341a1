"""SessionOptions: defaults, validation, environment variables, the container's configuration."""

from __future__ import annotations

from pathlib import Path

import pytest

from belay import SessionOptions
from belay.container import Container


def test_defaults_match_the_design() -> None:
    options = SessionOptions()
    assert (options.session_timeout, options.max_concurrent_sessions) == (1800.0, 10)
    assert (options.cleanup_timeout, options.lease, options.call_timeout) == (30.0, 30.0, None)


def test_options_are_frozen() -> None:
    with pytest.raises(AttributeError):
        SessionOptions().lease = 1.0  # type: ignore[misc]


@pytest.mark.parametrize("field", ["session_timeout", "cleanup_timeout", "lease", "call_timeout"])
def test_non_positive_times_are_refused(field: str) -> None:
    with pytest.raises(ValueError, match=field):
        SessionOptions(**{field: 0})


TIMES = ["session_timeout", "cleanup_timeout", "sync_timeout", "lease", "call_timeout"]


@pytest.mark.parametrize("field", TIMES)
@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), "5", True])
def test_times_that_are_not_finite_numbers_are_refused(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=f"^{field} must be a finite number of seconds above 0"):
        SessionOptions(**{field: value})


@pytest.mark.parametrize(
    ("field", "value"),
    [("journal_path", 42), ("journal_path", ""), ("max_concurrent_sessions", 2.5),
     ("journal_max_bytes", True), ("dtr", 1), ("enable_metrics", "yes")],
)  # fmt: skip
def test_values_of_the_wrong_type_are_refused(field: str, value: object) -> None:
    with pytest.raises(ValueError, match=f"^{field} must be"):
        SessionOptions(**{field: value})


def test_a_journal_path_given_as_text_is_a_path() -> None:
    assert SessionOptions(journal_path="j.jsonl").journal_path == Path("j.jsonl")  # type: ignore[arg-type]


def test_from_env_reads_belay_variables() -> None:
    options = SessionOptions.from_env(
        {"BELAY_CALL_TIMEOUT": "2.5", "BELAY_MAX_CONCURRENT_SESSIONS": "3",
         "BELAY_ENABLE_METRICS": "yes", "BELAY_JOURNAL_PATH": "/tmp/j", "OTHER": "x"}
    )  # fmt: skip
    assert options.call_timeout == 2.5
    assert options.max_concurrent_sessions == 3
    assert options.enable_metrics is True
    assert options.journal_path == Path("/tmp/j")


@pytest.mark.parametrize(("name", "value"), [("BELAY_LEASE", "soon"), ("BELAY_ENABLE_METRICS", "maybe")])
def test_bad_environment_values_name_the_option(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=name.removeprefix("BELAY_").lower()):
        SessionOptions.from_env({name: value})


def test_unknown_option_names_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown session options: bogus"):
        SessionOptions.from_mapping({"bogus": 1})


def test_container_configuration_overrides_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BELAY_LEASE", "7")
    monkeypatch.setenv("BELAY_CALL_TIMEOUT", "9")
    container = Container()
    container.config.options.from_value({"call_timeout": "1.5"})
    options = container.options()
    assert (options.lease, options.call_timeout) == (7.0, 1.5)
