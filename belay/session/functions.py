"""Host functions that run on the board: source extraction, hashing, and the call wrappers."""

from __future__ import annotations

import ast
import hashlib
import inspect
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from belay import literals
from belay.errors import DeviceCapabilityError, DeviceValueError

if TYPE_CHECKING:
    from belay.session.session import DeviceSession


@dataclass(frozen=True, slots=True)
class RemoteCode:
    """A function's board-side name, its source without decorators, and the hash of that."""

    name: str
    source: str
    code_hash: str


def remote_code(function: Callable[..., Any]) -> RemoteCode:
    """The source of a plain ``def`` to send to the board; refuses what cannot be sent."""
    if inspect.iscoroutinefunction(function) or inspect.isgeneratorfunction(function):
        raise DeviceValueError(f"{function.__name__}: only plain functions can run on a board")
    try:
        source = textwrap.dedent(inspect.getsource(function))
    except (OSError, TypeError) as error:
        raise DeviceValueError(f"{function!r}: its source is not available") from error
    node = ast.parse(source).body[0]
    if not isinstance(node, ast.FunctionDef):
        raise DeviceValueError(f"{function!r} is not defined with def")
    body = "\n".join(source.splitlines()[node.lineno - 1 :]) + "\n"
    digest = hashlib.sha256(body.encode("utf-8")).hexdigest()[:16]
    return RemoteCode(node.name, body, digest)


def call_arguments(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """``args`` and ``kwargs`` as call-argument source (each a Python literal)."""
    parts = [literals.dumps(value) for value in args]
    for key, value in kwargs.items():
        if not key.isidentifier():
            raise DeviceValueError(f"keyword {key!r} is not an identifier")
        parts.append(f"{key}={literals.dumps(value)}")
    return "".join("," + part for part in parts)


class RemoteFunction:
    """A host function deployed to the board the first time it is used (by its code hash)."""

    def __init__(self, session: DeviceSession, function: Callable[..., Any]) -> None:
        self.session = session
        self.function = function
        self.code = remote_code(function)
        self.__name__ = self.code.name
        self.__doc__ = function.__doc__

    def deploy_code(self) -> str:
        """The statement that deploys this function, or ``""`` when already deployed."""
        tracker = self.session.resources
        if tracker.is_method_deployed(self.code.name, self.code.code_hash):
            return ""
        key, code = self.session.token, self.code
        return (
            f"_ba.x({key!r}, {code.source!r})\n_ba.get({key!r}).methods[{code.name!r}] = {code.code_hash!r}\n"
        )

    def deployed(self) -> None:
        self.session.resources.register_deployed_method(self.code.name, self.code.code_hash)


class Task(RemoteFunction):
    """``await task(*args)`` runs the function on the board and returns its (literal) result."""

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        key = self.session.token
        code = self.deploy_code() + f"_ba.c({key!r},{self.code.name!r}{call_arguments(args, kwargs)})"
        value = await self.session.run_value(code)
        self.deployed()
        return value


class Thread(RemoteFunction):
    """``await thread(*args)`` starts the function in a tracked background thread; returns its name."""

    async def __call__(self, *args: Any) -> str:
        if not self.session.capabilities.threads:
            raise DeviceCapabilityError(
                f"the board on {self.session.port} has no _thread: cannot start {self.code.name}",
                capability="threads",
            )
        name = self.session.next_name(self.code.name)
        key = self.session.token
        arguments = literals.dumps(tuple(args))
        code = self.deploy_code() + f"_bat.thread({key!r}, {name!r}, {self.code.name!r}, {arguments})"
        await self.session.run(code)
        self.deployed()
        self.session.resources.register_background_thread(name)
        return name
