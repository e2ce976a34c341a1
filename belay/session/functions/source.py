"""The source of a host function that runs on the board, checked before anything is sent.

What can never work on the board is refused at decoration, naming what is wrong: a closure
variable (the enclosing function's locals do not exist there), a function whose source
Python cannot find (defined at a prompt or in ``python -c``: pass ``source=`` instead),
``async def``. A ``NameError`` from the board for a name the host module defines gets a
hint (:func:`host_name_hint`).
"""

from __future__ import annotations

import ast
import builtins
import hashlib
import inspect
import re
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from belay.errors import DeviceValueError


@dataclass(frozen=True, slots=True)
class RemoteCode:
    """A function's board-side name, its source without decorators, the hash of that, and
    where the source is on the host (for mapping board tracebacks). ``is_generator`` when
    its body yields."""

    name: str
    source: str
    code_hash: str
    file: str = "<unknown>"
    first_line: int = 1
    is_generator: bool = False
    parameters: tuple[str, ...] = ()


def remote_code(function: Callable[..., Any] | None = None, *, source: str | None = None) -> RemoteCode:
    """The checked source of ``function`` (a plain ``def``), or of the ``def`` in ``source``.

    Raises :class:`~belay.errors.DeviceValueError` for a closure, an ``async def``, source
    that is not available or not one ``def``.
    """
    if source is not None:
        if not isinstance(source, str):
            raise DeviceValueError(f"source= is the text of a def, not {type(source).__name__}")
        return _from_text(textwrap.dedent(source), "<source>", 1)
    if function is None or not callable(function):
        raise DeviceValueError(
            f"{function!r} is not a function: decorate a def, or pass source='def f(): ...'"
        )
    _refuse_unsendable(function)
    try:
        lines, first = inspect.getsourcelines(function)
    except (OSError, TypeError):
        raise DeviceValueError(_no_source_message(function)) from None
    file = inspect.getsourcefile(function) or "<unknown>"
    return _from_text(textwrap.dedent("".join(lines)), file, first)


def _refuse_unsendable(function: Callable[..., Any]) -> None:
    name = getattr(function, "__name__", repr(function))
    if inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function):
        raise DeviceValueError(f"{name} is an async def: only plain functions and generators run on a board")
    code = getattr(function, "__code__", None)
    free = [var for var in getattr(code, "co_freevars", ()) if var != "__class__"]
    if free:
        names = ", ".join(repr(var) for var in free)
        raise DeviceValueError(
            f"{name} uses {names} from the function it is defined in (a closure variable): "
            "that can never exist on the board; pass it as an argument, or define the task "
            "at module level"
        )


def _no_source_message(function: Callable[..., Any]) -> str:
    name = getattr(function, "__name__", "the function")
    return (
        f"the source of {name} is not available (defined at an interactive prompt, in "
        "`python -c` or by exec?): define it in a file, or pass its text as "
        f"session.task(source='def {name}(...): ...')"
    )


def _from_text(text: str, file: str, first: int) -> RemoteCode:
    try:
        module = ast.parse(text)
    except SyntaxError as error:
        raise DeviceValueError(
            f"the task's source is not valid Python: {error.msg} (line {error.lineno})"
        ) from None
    defs = [node for node in module.body if isinstance(node, ast.FunctionDef)]
    if len(module.body) != 1 or len(defs) != 1:
        raise DeviceValueError(
            "a task's source must be exactly one def (async def and lambdas cannot run on a board)"
        )
    node = defs[0]
    body = "\n".join(text.splitlines()[node.lineno - 1 :]) + "\n"
    digest = hashlib.sha256(body.encode("utf-8")).hexdigest()[:16]
    arguments = node.args
    named = [
        *arguments.posonlyargs,
        *arguments.args,
        arguments.vararg,
        *arguments.kwonlyargs,
        arguments.kwarg,
    ]
    parameters = tuple(arg.arg for arg in named if arg is not None)
    return RemoteCode(node.name, body, digest, file, first + node.lineno - 1, _yields(node), parameters)


def _yields(node: ast.FunctionDef) -> bool:
    """Whether ``node``'s own body yields (not a nested function's or lambda's)."""
    nested = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
    stack: list[ast.AST] = list(node.body)
    while stack:
        child = stack.pop()
        if isinstance(child, ast.Yield | ast.YieldFrom):
            return True
        if not isinstance(child, nested):
            stack.extend(ast.iter_child_nodes(child))
    return False


_NAME_ERROR = re.compile(r"name '([A-Za-z_]\w*)' (?:isn't|is not) defined")


def host_name_hint(message: str, host_globals: Mapping[str, Any]) -> str | None:
    """A hint for a board ``NameError`` (``message``) naming a global of the task's host module."""
    match = _NAME_ERROR.search(message)
    if match is None:
        return None
    name = match.group(1)
    if name not in host_globals or hasattr(builtins, name):
        return None
    return (
        f"{name!r} is defined in your host module, not on the board: pass it as an argument "
        "or define it with session.exec"
    )


__all__ = ["RemoteCode", "host_name_hint", "remote_code"]
