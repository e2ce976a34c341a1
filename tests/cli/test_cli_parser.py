"""``belay``'s arguments are parsed by the parser of the command being run alone (building every
command's parser was ~4 ms of each run), with the same result as the whole parser's."""

from __future__ import annotations

import argparse
from typing import Any

import pytest

from belay.cli import _build_parser, build_parser, parse_args

RUNS = [
    ["exec", "-p", "unix", "--dtr", "0", "-t", "2", "print(1)"],
    ["-v", "-q", "exec", "-"],
    ["fs", "cp", "a.txt", ":b.txt", "-p", "unix"],
    ["terminal", "--rts", "off"],  # an alias
    ["sync", "src", ":lib"],
    ["reset", "--hard"],
    ["ports"],
]


def _comparable(args: argparse.Namespace) -> dict[str, Any]:
    """``args``, its handlers by name (the fs commands' handlers are made with each parser)."""
    return {key: getattr(value, "__qualname__", value) for key, value in vars(args).items()}


@pytest.mark.parametrize("argv", RUNS, ids=" ".join)
def test_one_commands_parser_parses_as_the_whole_parser_does(argv: list[str]) -> None:
    assert _comparable(parse_args(argv)) == _comparable(build_parser().parse_args(argv))


def test_without_a_known_command_the_whole_parser_answers(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        parse_args(["exce", "print(1)"])
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert "invalid choice: 'exce'" in error and "'exec'" in error and "'ports'" in error
    with pytest.raises(SystemExit):
        parse_args(["--help"])
    shown = capsys.readouterr().out
    assert all(command in shown for command in ("exec", "run", "repl", "fs", "install", "ports"))


def test_a_commands_own_errors_and_help_are_its_own(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_args(["exec", "--dtr", "maybe", "pass"])
    assert "argument --dtr: a line level is 0, 1, on or off, not 'maybe'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args(["exec", "--help"])
    assert capsys.readouterr().out.startswith("usage: belay exec [-h]")


def test_only_the_commands_own_parser_is_built() -> None:
    parser, found = _build_parser("terminal")
    (subcommands,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert found and set(subcommands.choices) == {"repl", "terminal"}
    assert _build_parser("exce")[1] is False


def test_version_imports_no_commands_module() -> None:
    import subprocess
    import sys

    probe = (
        "import sys\nfrom belay.cli import main\ntry:\n    main(['--version'])\nexcept SystemExit:\n"
        "    pass\nprint(sorted(m for m in sys.modules if m.startswith('belay.cli.')))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    version, imported = done.stdout.splitlines()
    assert version.startswith("belay ") and imported == "['belay.cli.common']"
