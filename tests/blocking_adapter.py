"""One interface for the async API and the blocking API, so the async API's tests run through
both (issue 26, item 9).

The ``api`` fixture (tests/session/conftest.py) is ``"async"`` or ``"blocking"``. In blocking
mode the ``manager`` fixture is a :class:`BlockingManager`: its ``session(port)`` opens the
session through :meth:`belay.blocking.BlockingSession.enter` (what ``belay.connect`` uses) on
a portal to the test's own event loop, and hands the test an :class:`AwaitableView` of the
:class:`~belay.blocking.BlockingSession`: each of its methods is awaitable, and runs the
blocking call (``session.exec(...)``, ``add(1, 2)``, ``next(values)``, ``proxy.read(2)``,
``len(proxy)``, ``"a" in proxy``, ``for x in proxy``) in a worker thread, so the test's loop,
its observer and its other sessions go on meanwhile. So a test body reads the same in both
modes, and every call it makes goes through the blocking layer in the blocking one.

A view reports the class of the async object it stands for (``isinstance(p, Proxy)`` holds in
both modes). What the blocking API cannot do, cancel a call from an outer cancel scope (its
counterpart is Ctrl-C, tested in tests/test_blocking.py), is marked :data:`async_only`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
import pytest
from anyio.from_thread import BlockingPortal

from belay import DeviceSessionManager
from belay.blocking import BlockingGenerator, BlockingProxy, BlockingSession, BlockingTask
from belay.blocking.base import Blocking, awaited

async_only = pytest.mark.parametrize("api", ["async"])
"""For a test that cancels a call from outside (``move_on_after`` around it): async only."""

_DONE = object()


async def in_thread(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """``function(*args, **kwargs)`` (a blocking call) in a worker thread, its result viewed."""
    result = await anyio.to_thread.run_sync(functools.partial(function, *_plain(args), **_plain(kwargs)))
    return view(result)


def view(value: Any) -> Any:
    """``value`` with every blocking object in it made an awaitable view."""
    if isinstance(value, BlockingProxy):
        return ProxyView(value)
    if isinstance(value, BlockingGenerator):
        return GeneratorView(value)
    if isinstance(value, BlockingTask):
        return TaskView(value)
    if isinstance(value, Blocking):
        return AwaitableView(value)
    if isinstance(value, list | tuple):
        return type(value)(view(item) for item in value)
    if isinstance(value, dict):
        return {key: view(item) for key, item in value.items()}
    return value


def _plain(values: Any) -> Any:
    """Arguments with each view given as the blocking object it views."""
    if isinstance(values, dict):
        return {key: _plain_one(value) for key, value in values.items()}
    return tuple(_plain_one(value) for value in values)


def _plain_one(value: Any) -> Any:
    return object.__getattribute__(value, "_blocking") if isinstance(value, AwaitableView) else value


class AwaitableView:
    """A blocking object whose blocking methods are awaitable: those whose async counterpart is
    a coroutine function run in a worker thread; the rest are called as they are."""

    def __init__(self, blocking: Blocking) -> None:
        object.__setattr__(self, "_blocking", blocking)

    @property  # type: ignore[misc]
    def __class__(self) -> type:  # stands for the async object's class
        return type(object.__getattribute__(self, "_blocking")._target)

    def __getattr__(self, name: str) -> Any:
        blocking = object.__getattribute__(self, "_blocking")
        attribute = getattr(blocking, name)
        counterpart = getattr(blocking._target, name, None)
        if callable(attribute) and _is_async(counterpart):
            return functools.partial(in_thread, attribute)
        if inspect.ismethod(attribute):  # session.task(...), fs.temporary_files(), ...
            return lambda *args, **kwargs: view(attribute(*_plain(args), **_plain(kwargs)))
        return view(attribute)

    def __repr__(self) -> str:
        return f"<awaitable view of {object.__getattribute__(self, '_blocking')!r}>"


def _is_async(counterpart: Any) -> bool:
    return inspect.iscoroutinefunction(counterpart) or inspect.iscoroutinefunction(
        getattr(counterpart, "__call__", None)  # noqa: B004 - a RemoteFunction is called
    )


class TaskView(AwaitableView):
    """A task: ``await add(1, 2)``; a generator task's call gives a :class:`GeneratorView`."""

    def with_timeout(self, timeout: float | None) -> Callable[..., Any]:
        caller = object.__getattribute__(self, "_blocking").with_timeout(timeout)
        return functools.partial(in_thread, caller)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        blocking = object.__getattribute__(self, "_blocking")
        if _is_async(blocking._target):
            return in_thread(blocking, *args, **kwargs)
        return view(blocking(*_plain(args), **_plain(kwargs)))


class GeneratorView(AwaitableView):
    """A plain iterator as an async one: each ``next`` in a worker thread."""

    def __aiter__(self) -> GeneratorView:
        return self

    async def __anext__(self) -> Any:
        value = await in_thread(next, object.__getattribute__(self, "_blocking"), _DONE)
        if value is _DONE:
            raise StopAsyncIteration
        return value

    async def aclose(self) -> None:
        await in_thread(object.__getattribute__(self, "_blocking").close)


class ProxyStep:
    """``p.attr``, ``p[key]`` of a proxy view, resolved (with plain blocking calls) only when
    awaited or called, as the async proxy's path is."""

    def __init__(self, resolve: Callable[[], Any]) -> None:
        self._resolve = resolve

    def __getattr__(self, name: str) -> ProxyStep:
        if name.startswith("__"):
            raise AttributeError(name)
        return ProxyStep(lambda: getattr(self._resolve(), name))

    def __getitem__(self, key: Any) -> ProxyStep:
        return ProxyStep(lambda: self._resolve()[key])

    def __await__(self) -> Any:
        return in_thread(self._resolve).__await__()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return in_thread(lambda *a, **k: self._resolve()(*a, **k), *args, **kwargs)


class ProxyView(AwaitableView):
    """A blocking proxy as an async one: ``await p.attr``, ``await p.method(1)``,
    ``await p.len()`` (``len(p)``), ``await p.contains(x)`` (``x in p``), ``async for``
    (``for x in p``), ``await p.set(k, v)``, ``await p.release()``."""

    def __getattr__(self, name: str) -> Any:
        proxy = object.__getattribute__(self, "_blocking")
        if name.startswith("__"):
            raise AttributeError(name)
        if name == "len":
            return functools.partial(in_thread, len, proxy)
        if name == "contains":
            return lambda item: in_thread(lambda: item in proxy)
        return ProxyStep(lambda: getattr(proxy, name))

    def __getitem__(self, key: Any) -> ProxyStep:
        proxy = object.__getattribute__(self, "_blocking")
        return ProxyStep(lambda: proxy[key])

    def __aiter__(self) -> GeneratorView:
        return GeneratorView(iter(object.__getattribute__(self, "_blocking")))

    def __await__(self) -> Any:
        """``await proxy`` (the object again: its value when immutable) has no blocking spelling
        of its own; asked through the same blocking call as ``proxy.attr``."""
        proxy = object.__getattribute__(self, "_blocking")
        return in_thread(proxy._call_value, awaited, proxy._target).__await__()


class BlockingManager:
    """A session manager whose sessions are blocking sessions seen through awaitable views;
    everything else is the manager's own."""

    def __init__(self, manager: DeviceSessionManager) -> None:
        self._manager = manager

    def __getattr__(self, name: str) -> Any:
        return getattr(self._manager, name)

    @asynccontextmanager
    async def session(self, port: str, **options: Any) -> AsyncIterator[Any]:
        """The session, opened and ended by the blocking API; an error ending it is raised
        after the portal is closed (inside, anyio would wrap it in an exception group)."""
        failure: BaseException | None = None
        async with BlockingPortal() as portal:
            opening = self._manager.session(port, **options)
            blocking = await anyio.to_thread.run_sync(BlockingSession.enter, portal, opening)
            try:
                yield AwaitableView(blocking)
            except BaseException as error:
                failure = await _ended(
                    functools.partial(blocking.__exit__, type(error), error, error.__traceback__)
                )
                if failure is None:
                    failure = error
                elif failure is _SWALLOWED:
                    failure = None
            else:
                failure = await _ended(blocking.close)
        if failure is not None:
            raise failure


_SWALLOWED = StopIteration()


async def _ended(end: Callable[[], Any]) -> BaseException | None:
    """What ending a session raised: ``None`` if nothing, :data:`_SWALLOWED` if it swallowed
    the error it was given."""
    try:
        swallowed = await anyio.to_thread.run_sync(end)
    except BaseException as error:
        return error
    return _SWALLOWED if swallowed else None
