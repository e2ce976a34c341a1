"""What is sent to a board is the device file's code in fewer bytes: the same syntax tree."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from belay.agent.sources import device_file, minify

DEVICE = Path(__file__).resolve().parents[2] / "device"


@pytest.mark.parametrize("name", sorted(path.name for path in DEVICE.glob("*.py")))
def test_a_minified_device_file_is_the_same_code(name: str) -> None:
    source = device_file(name)
    small = minify(source)
    assert ast.dump(ast.parse(small)) == ast.dump(ast.parse(source))
    assert len(small) <= len(source)


def test_spaces_go_where_no_token_needs_them() -> None:
    source = b"def f(a, b):\n    # why\n    n = a + b  # sum\n    return n if n is not None else b'x'\n"
    assert minify(source) == b"def f(a,b):\n n=a+b\n return n if n is not None else b'x'\n"


def test_a_number_keeps_the_space_before_its_attribute() -> None:
    assert minify(b"x = 1 .real\n") == b"x=1 .real\n"


def test_what_the_token_minifier_cannot_read_is_minified_by_lines() -> None:
    source = b"x = (1,  # an open bracket\n\n# gone\n        2\n"  # tokenize: EOF in a statement
    assert minify(source) == b"x = (1,  # an open bracket\n  2\n"
