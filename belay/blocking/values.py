"""What blocking calls return: plain values, plain iterators for generator tasks, and
:class:`BlockingProxy` for board objects, whose attributes, items, calls, ``len``, ``in``,
iteration and assignment are plain calls that return values.

A blocking proxy wraps whatever the async :class:`~belay.session.functions.proxies.Proxy`
answers: a value stays a value, a proxy becomes a blocking proxy (also inside the lists,
tuples and dicts a task returns).
"""

from __future__ import annotations

import inspect
from functools import partial
from typing import Any

from belay.blocking.base import Blocking, awaited
from belay.session.functions.proxies import Proxy

# Names asked of a proxy by Python's protocols and by IPython's display machinery, never meant
# for the board object (each would cost a round trip and an AttributeError from the board).
_NOT_FORWARDED = ("__", "_ipython_", "_repr_")


class Valued(Blocking):
    """A blocking object whose calls' results carry board objects as :class:`BlockingProxy`."""

    def _value(self, value: Any) -> Any:
        if isinstance(value, Proxy):
            return self._wrap(BlockingProxy, value)
        if isinstance(value, list | tuple):
            return type(value)(self._value(item) for item in value)
        if isinstance(value, dict):
            return {key: self._value(item) for key, item in value.items()}
        return value


class BlockingGenerator(Valued):
    """A generator task's values (or a proxy's items) as a plain iterator; ``close()`` drops it
    on the board."""

    def __iter__(self) -> BlockingGenerator:
        return self

    def __next__(self) -> Any:
        __tracebackhide__ = True
        try:
            return self._call_value(self._target.__anext__)  # type: ignore[attr-defined]
        except StopAsyncIteration:
            raise StopIteration from None

    def close(self) -> None:
        self._call(self._target.aclose)  # type: ignore[attr-defined]


class BlockingProxy(Valued):
    """A board object the session keeps, used with plain calls: ``p.attr``, ``p[key]``,
    ``p.method(*args)``, ``len(p)``, ``x in p``, ``for x in p``, ``p[key] = v``, ``p.attr = v``
    (or ``p.set(attr_or_key, v)``), ``p.release()``. Each asks the board once and returns the
    value, or a blocking proxy of an object that is not a value. A proxy is always true."""

    def __getattr__(self, name: str) -> Any:
        __tracebackhide__ = True
        if name.startswith(_NOT_FORWARDED):
            raise AttributeError(name)
        attribute = getattr(self._target, name)
        if inspect.iscoroutinefunction(attribute):  # a method of the proxy itself (``value()``)
            return partial(self._call_value, attribute)
        return self._call_value(awaited, attribute)

    def __getitem__(self, key: Any) -> Any:
        __tracebackhide__ = True
        return self._call_value(awaited, self._target[key])  # type: ignore[index]

    def __setitem__(self, key: Any, value: Any) -> None:
        self.set(key, value)

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            object.__setattr__(self, name, value)
        else:
            self.set(name, value)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        __tracebackhide__ = True
        return self._call_value(self._target, *_targets(args), **_targets(kwargs))  # type: ignore[arg-type]

    def __len__(self) -> int:
        return int(self._call(self._proxy.len))

    def __contains__(self, item: Any) -> bool:
        return bool(self._call(self._proxy.contains, item))

    def __iter__(self) -> BlockingGenerator:
        return self._wrap(BlockingGenerator, self._proxy.__aiter__())

    def __bool__(self) -> bool:
        return True

    def set(self, attr_or_key: Any, value: Any) -> None:
        """``obj[key] = value`` (a dict, or a non-string key), else ``setattr(obj, attr, value)``."""
        self._call(self._proxy.set, attr_or_key, _target(value))

    def release(self) -> None:
        """Let the board forget the object now (else when dropped, or when the session ends)."""
        self._call(self._proxy.release)

    @property
    def _proxy(self) -> Proxy:
        assert isinstance(self._target, Proxy)
        return self._target


def _target(value: Any) -> Any:
    """A blocking proxy passed as an argument stands for its async proxy."""
    return value._target if isinstance(value, BlockingProxy) else value


def _targets(values: Any) -> Any:
    if isinstance(values, dict):
        return {key: _target(value) for key, value in values.items()}
    return tuple(_target(value) for value in values)


__all__ = ["BlockingGenerator", "BlockingProxy", "Valued"]
