"""The call wrappers of host functions that run on the board (their source: :mod:`remote_source`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from belay import literals
from belay.agent import calls
from belay.errors import DeviceCapabilityError, DeviceExecError, DeviceValueError
from belay.heap import collects_before_keeping
from belay.literals import call_arguments
from belay.session.context import DEFAULT, SessionContext, Timeout
from belay.session.functions.proxies import ensure_loaded, with_proxies
from belay.session.functions.source import RemoteCode, host_name_hint, remote_code


class RemoteFunction:
    """A host function deployed to the board the first time it is used (by its code hash)."""

    def __init__(
        self,
        session: SessionContext,
        function: Callable[..., Any] | None = None,
        *,
        source: str | None = None,
        code: RemoteCode | None = None,
    ) -> None:
        self.session = session
        self.function = function
        self.code = code or remote_code(function, source=source)
        self.__name__ = self.code.name
        self.__doc__ = getattr(function, "__doc__", None)
        self._host_globals: dict[str, Any] = getattr(function, "__globals__", {})
        self._own_timeout = "timeout" in self.code.parameters
        session.remember_origin(self.code.name, self.code.file, self.code.first_line)

    def deploy_code(self) -> str:
        """The statement that deploys this function, or ``""`` when already deployed."""
        if self.session.resources.is_method_deployed(self.code.name, self.code.code_hash):
            return ""
        return calls.deploy(
            self.session.ref, self.code.source, collects_before_keeping(self.session.capabilities)
        )

    def hinted(self, error: DeviceExecError) -> DeviceExecError:
        """``error``, with a hint when it is a ``NameError`` for a global of the host module."""
        if error.remote_type == "NameError":
            error.hint = host_name_hint(error.remote_message, self._host_globals)
        return error

    def deployed(self) -> None:
        self.session.resources.register_deployed_method(self.code.name, self.code.code_hash)

    def _split_timeout(self, kwargs: dict[str, Any]) -> Timeout:
        """``timeout=`` is belay's (the call's deadline) unless the function has a parameter
        of that name; then use :meth:`with_timeout`."""
        if self._own_timeout or "timeout" not in kwargs:
            return DEFAULT
        timeout: Timeout = kwargs.pop("timeout")
        return timeout


class Task(RemoteFunction):
    """``await task(*args, timeout=None)`` runs the function on the board and returns its
    (literal) result; what it prints reaches the session's ``on_output`` as it is printed.

    Raises :class:`~belay.errors.DeviceExecError` when it raises on the board,
    :class:`~belay.errors.DeviceTimeoutError` past its deadline (the board is interrupted).
    """

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        timeout = self._split_timeout(kwargs)
        return await self.call(args, kwargs, timeout=timeout)

    def with_timeout(self, timeout: float | None) -> Callable[..., Any]:
        """A caller of this task with its own deadline (for functions with a ``timeout`` parameter)."""

        async def call(*args: Any, **kwargs: Any) -> Any:
            return await self.call(args, kwargs, timeout=timeout)

        return call

    async def call(self, args: tuple[Any, ...], kwargs: dict[str, Any], *, timeout: Timeout = DEFAULT) -> Any:
        name = self.code.name
        arguments = call_arguments(args, kwargs)
        code = self.deploy_code() + calls.call_task(
            self.session.ref, name, arguments, self.session.capabilities.threads
        )
        if self.may_return_proxies:  # belay_agent.proxy(obj) in its source
            await ensure_loaded(self.session)
            code += "\n" + calls.adopt_proxies(self.session.token)
        try:
            value = await self.session.run_value(code, timeout=timeout)
        except DeviceExecError as error:
            raise self.hinted(error) from None
        self.deployed()
        return with_proxies(self.session, value) if self.may_return_proxies else value

    @property
    def may_return_proxies(self) -> bool:
        return ".proxy(" in self.code.source


class Thread(RemoteFunction):
    """``await thread(*args)`` starts the function in a tracked background thread; returns its name.

    Raises :class:`~belay.errors.DeviceCapabilityError` on a board without ``_thread``.
    """

    async def __call__(self, *args: Any, **kwargs: Any) -> str:
        timeout = self._split_timeout(kwargs)
        if kwargs:
            raise DeviceValueError(f"{self.code.name}: threads take positional arguments only")
        if not self.session.capabilities.threads:
            raise DeviceCapabilityError(
                f"the board on {self.session.port} has no _thread: cannot start {self.code.name}",
                capability="threads",
            )
        name = self.session.next_name(self.code.name)
        keep = self.session.options.thread_output_limit
        code = self.deploy_code() + calls.start_thread(
            self.session.token, name, self.code.name, literals.dumps_for_board(tuple(args)), keep
        )
        await self.session.run(code, timeout=timeout)
        self.deployed()
        self.session.resources.register_background_thread(name)
        return name


class Timer:
    """A tracked periodic call on the board; ``await timer.cancel()`` stops it early."""

    def __init__(self, session: SessionContext, name: str) -> None:
        self.session = session
        self.name = name

    async def cancel(self) -> None:
        await self.session.run(calls.cancel_timer(self.session.token, self.name))
        self.session.resources.unregister_timer(self.name)


async def start_timer(
    session: SessionContext,
    function: RemoteFunction | Callable[..., Any],
    period_ms: int,
    args: tuple[Any, ...],
    timeout: Timeout,
) -> Timer:
    """Call ``function(*args)`` on the board every ``period_ms`` for ``session`` (deployed
    first); raises :class:`DeviceCapabilityError` on a board with neither ``machine.Timer``
    nor ``_thread``."""
    if not (session.capabilities.timer or session.capabilities.threads):
        raise DeviceCapabilityError(
            f"the board on {session.port} has neither machine.Timer nor _thread", capability="timer"
        )
    remote = function if isinstance(function, RemoteFunction) else Task(session, function)
    name = session.next_name("timer")
    start = calls.start_timer(
        session.token,
        name,
        remote.code.name,
        int(period_ms),
        literals.dumps_for_board(args),
        session.options.thread_output_limit,
    )
    await session.run(remote.deploy_code() + start, timeout=timeout)
    remote.deployed()
    session.resources.register_timer(name)
    return Timer(session, name)
