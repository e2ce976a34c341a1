"""Every script in ``examples/`` runs to its end, as its docstring says to run it: on the
``unix`` board, and on the ``microbit`` board where it takes a port."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
TAKES_A_PORT = {"design_example.py", "hello_device.py"}


def _cases() -> list[object]:
    cases: list[object] = []
    for script in EXAMPLES:
        cases.append(pytest.param(script, [], id=script.name))
        if script.name in TAKES_A_PORT:
            cases.append(
                pytest.param(script, ["microbit"], id=f"{script.name}-microbit", marks=pytest.mark.microbit)
            )
    return cases


def test_every_example_is_listed() -> None:
    assert {script.name for script in EXAMPLES} >= TAKES_A_PORT


@pytest.mark.parametrize(("script", "arguments"), _cases())
def test_example_runs(script: Path, arguments: list[str], tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("BELAY_", "PYTEST_"))}
    result = subprocess.run(
        [sys.executable, str(script), *arguments],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert result.returncode == 0, (
        f"{script.name} {arguments}: exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    )
    assert result.stdout.strip(), f"{script.name} printed nothing"
