"""``belay.__all__`` is the public surface: every name exists, and nothing is exported twice."""

from __future__ import annotations

import ast
import importlib
import inspect
from typing import Any

import pytest

import belay
import belay.errors
import belay.transports


def test_every_exported_name_exists() -> None:
    missing = [name for name in belay.__all__ if not hasattr(belay, name)]
    assert missing == []
    assert len(set(belay.__all__)) == len(belay.__all__)


def test_every_error_is_a_belay_error_and_exported() -> None:
    for name in belay.errors.__all__:
        error = getattr(belay.errors, name)
        assert issubclass(error, belay.errors.BelayError)
        assert name in belay.__all__


def test_timeout_error_is_also_builtin_timeout() -> None:
    assert issubclass(belay.DeviceTimeoutError, TimeoutError)


def _type_checking_names(module: object) -> dict[str, str]:
    """``name -> module`` of the imports in ``module``'s ``if TYPE_CHECKING:`` block, each of
    which must re-export its name (``import X as X``) for type checkers."""
    tree = ast.parse(inspect.getsource(module))  # type: ignore[arg-type]
    (block,) = (
        node for node in tree.body if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING"
    )
    found = {}
    for node in block.body:
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                assert alias.asname == alias.name, f"{alias.name} is not re-exported"
                found[alias.name] = str(node.module)
    return found


@pytest.mark.parametrize("package", [belay, belay.transports], ids=lambda p: p.__name__)
def test_the_type_checkers_imports_are_the_lazy_table(package: Any) -> None:
    assert _type_checking_names(package) == package._LAZY
    assert set(package._LAZY) <= set(package.__all__)


def test_the_lazy_names_resolve_to_their_modules() -> None:
    for name, module in {**belay._LAZY, **belay.transports._LAZY}.items():
        assert getattr(importlib.import_module(module), name) is getattr(
            belay.transports if module.startswith("belay.transports.") else belay, name
        )
