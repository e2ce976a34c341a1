"""Proxies for board objects that are not literals: ``p = await session.proxy("expr")``.

``session.proxy(expr)`` always answers a :class:`Proxy`: the object stays on the board, so
changes made through it reach the board's object. A proxy names an object the board keeps for
the session (by id) and a path of attribute and item steps from it. Building the path
(``p.attr``, ``p[key]``) sends nothing; awaiting it asks the board once and returns the value
when it is immutable (numbers, ``str``, ``bytes``, ``None``, booleans, tuples of those), else a
new proxy of the same board object (``await p["a"].append(4)`` changes the board's list).
``await p.method(*args)`` calls it and returns what the method returned: a copy when it is a
literal (a list or dict of literals too: a method's result is a fresh value), else a proxy.
``await p.snapshot()`` copies the whole object to the host (a literal, else
:class:`~belay.errors.DeviceValueError`). ``len``, ``contains``, ``set``, ``async for`` and
``release`` do what they say. A proxy the board holds is a session resource: released
by :meth:`Proxy.release`, when the host drops its last reference (sent ahead of the
session's next call), or when the session ends (the agent drops every one).
"""

from __future__ import annotations

import re
import weakref
from collections.abc import AsyncIterator, Generator
from typing import Any

from belay import literals
from belay.agent import calls
from belay.errors import DeviceValueError, SessionError
from belay.heap import collects_before_keeping
from belay.literals import call_arguments
from belay.session.context import DEFAULT, SessionContext, Timeout
from belay.session.tracker import SessionResource

MARK = "\x1bproxy"
"""First item of the tuple a task's ``belay_agent.proxy(obj)`` answers as."""


def type_name(described: str) -> str:
    """``"Sensor"`` from the board's ``str(type(obj))`` (``"<class 'Sensor'>"``)."""
    match = re.fullmatch(r"<class '([^']*)'>", described)
    return match.group(1) if match else described


class ProxyResource(SessionResource):
    """A board object a session holds through a proxy (the agent drops it at the session's end)."""

    def __init__(self, ref: int, type_name: str) -> None:
        super().__init__(f"proxy-{ref}", "proxy")
        self.type_name = type_name

    async def cleanup(self) -> None:
        """Nothing to send: ending the session on the board drops its proxies with it."""


class Proxy:
    """A board object, or a step path from one; see the module docs. Raises
    :class:`~belay.errors.SessionError` when used after its session ended."""

    def __init__(
        self,
        session: SessionContext,
        ref: int,
        type_name: str,
        path: tuple[Any, ...] = (),
        root: Proxy | None = None,
    ) -> None:
        self._session = session
        self._ref = ref
        self._type = type_name
        self._path = path
        self._root = root  # a path proxy keeps its root (and so the board's object) alive

    # --- building paths (nothing sent) -----------------------------------------------------

    def __getattr__(self, name: str) -> Proxy:
        if name.startswith("__"):
            raise AttributeError(name)
        return self._step(("a", name))

    def __getitem__(self, key: Any) -> Proxy:
        return self._step(("i", key))

    def _op(self, op: str, arguments: str = "") -> str:
        """The code of proxy operation ``op`` at this path; on a small heap after a collection
        (a fragmented micro:bit heap fails to parse even a call this short otherwise)."""
        code = calls.proxy_op(op, *self._where(), arguments)
        return calls.collect_garbage() + code if collects_before_keeping(self._session.capabilities) else code

    def _step(self, step: tuple[str, Any]) -> Proxy:
        return Proxy(self._session, self._ref, self._type, (*self._path, step), self._root or self)

    # --- asking the board ------------------------------------------------------------------

    def __await__(self) -> Generator[Any, None, Any]:
        return self._ask(self._op("g")).__await__()

    async def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return await self._ask(self._op("c", call_arguments(args, kwargs)))

    async def snapshot(self) -> Any:
        """A copy of the object (at this path) on the host, when it is a literal (nested lists,
        dicts, sets and tuples of numbers, strings, bytes and ``None``); raises
        :class:`~belay.errors.DeviceValueError` for anything else. Named ``snapshot``, not
        ``value``, so that a board object's own ``value()`` (a ``Pin``'s) stays reachable."""
        answer = await self._session.run_value(self._op("v"))
        if isinstance(answer, tuple) and answer[:1] == (3,) and len(answer) == 2:
            raise DeviceValueError(
                f"proxy {self!r}: a {type_name(str(answer[1]))} is not a literal; "
                "it cannot be copied to the host"
            )
        return _read(self._session, answer)

    async def len(self) -> int:
        """``len()`` of the object on the board."""
        return int(await self._session.run_value(self._op("l")))

    async def contains(self, item: Any) -> bool:
        """``item in obj`` on the board."""
        return bool(await self._session.run_value(self._op("n", "," + _literal(item))))

    async def set(self, attr_or_key: Any, value: Any) -> None:
        """``obj[key] = value`` (a dict, or a non-string key), else ``setattr(obj, attr, value)``."""
        code = self._op("s", f",{_literal(attr_or_key)},{_literal(value)}")
        await self._session.run(code)

    async def __aiter__(self) -> AsyncIterator[Any]:
        ref = await self._session.run_value(self._op("i"))
        answer = None
        try:
            while (answer := await self._session.run_value(calls.proxy_next(self._session.token, ref))) != 2:
                yield _read(self._session, answer)
        finally:
            if answer != 2 and self._session.is_active:
                self._session.release_later(calls.proxy_drop(self._session.token, ref))

    async def release(self) -> None:
        """Let the board forget the object (a path proxy releases nothing)."""
        if not self._path and self._session.is_active and _forget(self._session, self._ref):
            await self._session.run(calls.proxy_drop(self._session.token, self._ref))

    def _where(self) -> tuple[str, int, str]:
        if not self._session.is_active:
            raise SessionError(
                f"proxy of a {self._type} used after session {self._session.session_id} ended",
                session_id=self._session.session_id,
            )
        return self._session.token, self._ref, _literal(self._path)

    async def _ask(self, code: str) -> Any:
        return _read(self._session, await self._session.run_value(code))

    def __repr__(self) -> str:
        steps = "".join(f".{key}" if kind == "a" else f"[{key!r}]" for kind, key in self._path)
        return f"<Proxy {self._type} #{self._ref}{steps} on {self._session.port}>"


async def evaluate(session: SessionContext, expression: str, timeout: Timeout = DEFAULT) -> Proxy:
    """``session.proxy(expression)``: a proxy of its value, whatever it is (kept on the board)."""
    await ensure_loaded(session)
    answer = await session.run_value(calls.proxy_of(session.token, expression), timeout=timeout)
    proxy = _read(session, answer)
    if not isinstance(proxy, Proxy):
        raise DeviceValueError(f"session.proxy({expression!r:.60}): the board answered no proxy")
    return proxy


async def ensure_loaded(session: SessionContext) -> None:
    """Install the agent's proxy part, in a call of its own (compiling it and other code in
    one call does not fit the micro:bit's heap)."""
    loader = session.board.once_per_boot("proxies")
    if loader:
        if collects_before_keeping(session.capabilities):  # compiled in the lowest free blocks
            loader = calls.collect_garbage() + loader
        try:
            await session.run(loader)
        except BaseException:
            session.board.unsure("proxies")
            raise


def _literal(value: Any) -> str:
    return literals.dumps_for_board(value)


def adopt(session: SessionContext, ref: int, type_name: str) -> Proxy:
    """A proxy for object ``ref`` the board now keeps for ``session``, tracked until released."""
    session.resources.register(ProxyResource(ref, type_name))
    proxy = Proxy(session, ref, type_name)
    weakref.finalize(proxy, _dropped, weakref.ref(session), ref)
    return proxy


def _forget(session: SessionContext, ref: int) -> bool:
    known = any(resource.resource_id == f"proxy-{ref}" for resource in session.resources.active_resources())
    session.resources.unregister(f"proxy-{ref}")
    return known


def _dropped(session_ref: weakref.ref[SessionContext], ref: int) -> None:
    session = session_ref()
    if session is not None and session.is_active and _forget(session, ref):
        session.release_later(calls.proxy_drop(session.token, ref))


def _read(session: SessionContext, answer: Any) -> Any:
    """A proxy answer (``(0, value)`` or ``(1, id, type)``) as a value or a new proxy."""
    if isinstance(answer, tuple) and answer[:1] == (0,) and len(answer) == 2:
        return answer[1]
    if isinstance(answer, tuple) and answer[:1] == (1,) and len(answer) == 3:
        return adopt(session, int(answer[1]), type_name(str(answer[2])))
    raise DeviceValueError(f"a proxy call: the board answered {answer!r:.100}")


def with_proxies(session: SessionContext, value: Any) -> Any:
    """``value`` (a task's answer) with every ``belay_agent.proxy(obj)`` marker made a proxy."""
    if isinstance(value, tuple) and len(value) == 3 and value[0] == MARK:
        return adopt(session, int(value[1]), type_name(str(value[2])))
    if isinstance(value, list | tuple):
        return type(value)(with_proxies(session, item) for item in value)
    if isinstance(value, dict):
        return {key: with_proxies(session, item) for key, item in value.items()}
    return value


__all__ = ["Proxy", "ProxyResource", "adopt", "ensure_loaded", "evaluate", "with_proxies"]
