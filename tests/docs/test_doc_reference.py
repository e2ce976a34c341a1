"""The pages the site makes from the code (scripts/docs_hooks.py): every ``belay`` command and
sub-command has its help on the command-line reference, and every public name its block on the
API reference, so neither can drift from the code."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import belay
from belay.cli import COMMANDS

ROOT = Path(__file__).resolve().parents[2]


def _hooks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_hooks", ROOT / "scripts" / "docs_hooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["docs_hooks"] = module
    spec.loader.exec_module(module)
    return module


def test_the_cli_reference_has_every_command_and_its_options() -> None:
    page = _hooks().cli_reference()
    for command in COMMANDS:
        assert f"## `belay {command}`" in page
        assert f"usage: belay {command}" in page
    for verb in ("ls", "cat", "cp", "mv", "rm", "mkdir", "touch", "tree", "hash"):
        assert f"### `belay fs {verb}`" in page
    assert "--timeout" in page and "--belayignore" not in page


def test_the_api_reference_documents_every_public_name() -> None:
    page = _hooks().api_reference()
    for name in belay.__all__:
        if name != "__version__":
            assert f".{name}\n" in page, name


def test_the_markers_are_replaced() -> None:
    hooks = _hooks()
    page = hooks.on_page_markdown(f"# x\n\n{hooks.CLI_MARKER}\n\n{hooks.API_MARKER}\n")
    assert "<!--" not in page and "::: belay.options.SessionOptions" in page
