"""What is sent to a board is the device file's code in fewer bytes: the same syntax tree."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from belay.agent import sources
from belay.agent.sources import device_file, minified

DEVICE = Path(__file__).resolve().parents[2] / "device"


@pytest.mark.parametrize("name", sorted(path.name for path in DEVICE.glob("*.py")))
def test_a_minified_device_file_is_the_same_code(name: str) -> None:
    source = device_file(name)
    small = minified(source)
    assert ast.dump(ast.parse(small)) == ast.dump(ast.parse(source))
    assert len(small) <= len(source)


def test_spaces_go_where_no_token_needs_them() -> None:
    source = b"def f(a, b):\n    # why\n    n = a + b  # sum\n    return n if n is not None else b'x'\n"
    assert minified(source) == b"def f(a,b):\n n=a+b\n return n if n is not None else b'x'\n"


def test_a_number_keeps_the_space_before_its_attribute() -> None:
    assert minified(b"x = 1 .real\n") == b"x=1 .real\n"


def test_what_the_token_minifier_cannot_read_is_minified_by_lines() -> None:
    source = b"x = (1,  # an open bracket\n\n# gone\n        2\n"  # tokenize: EOF in a statement
    assert minified(source) == b"x = (1,  # an open bracket\n  2\n"


MINIFY_IN_A_PROCESS = (
    "import sys\nfrom belay.agent import sources\n"
    "if sys.argv[1] == 'no-tokenizer':\n"
    "    def refuse(source):\n        raise AssertionError('tokenized again')\n"
    "    sources._tokens_minified = refuse\n"
    "from belay.agent.install import agent_files\n"
    "sys.stdout.write(repr(sorted(agent_files(True).items())))\n"
)


def _agent_files_in_a_process(cache_home: Path, mode: str) -> str:
    environment = {**os.environ, "XDG_CACHE_HOME": str(cache_home)}
    done = subprocess.run([sys.executable, "-c", MINIFY_IN_A_PROCESS, mode], env=environment,
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_the_agent_is_minified_once_then_read_from_the_users_cache(tmp_path: Path) -> None:
    first = _agent_files_in_a_process(tmp_path, "tokenize")
    assert (tmp_path / "belay" / sources.MINIFIED_CACHE).is_file()
    assert _agent_files_in_a_process(tmp_path, "no-tokenizer") == first


def test_a_cache_file_that_is_not_ours_to_trust_only_means_minifying_again(tmp_path: Path) -> None:
    first = _agent_files_in_a_process(tmp_path, "tokenize")
    kept = tmp_path / "belay" / sources.MINIFIED_CACHE
    kept.write_text("{not json", encoding="utf-8")
    assert _agent_files_in_a_process(tmp_path, "tokenize") == first
    kept.write_text(json.dumps({key: 42 for key in json.loads(kept.read_text(encoding="utf-8"))}))
    assert _agent_files_in_a_process(tmp_path, "tokenize") == first
    assert all(isinstance(text, str) for text in json.loads(kept.read_text(encoding="utf-8")).values())
