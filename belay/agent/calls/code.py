"""Calls that run a session's code: statements, expressions, deployed functions, generators,
proxies, threads and timers."""

from __future__ import annotations

from belay.agent.names import Ref
from belay.literals import uninterned as _u


def exec_code(token: Ref, code: str, guarded: bool) -> str:
    """Run ``code`` in the session's namespace, straight from the raw REPL's code (one level
    deeper than the bare REPL). ``guarded`` (boards with threads): ``_ba.d`` ends the call for
    the reaper however it ends; elsewhere (the micro:bit) the plain form spares the parser's
    heap, and a collection first frees what the parser needs (one the parser triggers itself,
    deep in its own stack, frees less, likely kept by stale pointers there: twelve sessions at
    work at once met ``MemoryError: parser could not allocate`` without it, none with it). It
    answers after all the code printed (so printed text is never taken for the answer): the
    modules the session first imported so far (guarded), else ``0``."""
    run = f"exec({_u(code)},_ba.g({token!r}))"
    if not guarded:
        return f"_ba.gc.collect()\n{run}\n_ba.v(0)"
    return f"try:{run}\nfinally:_ba.d()\n_ba.v(_ba.x({token!r}).get('m',[]))"


def keep_modules(token: Ref) -> str:
    """Let the session's modules stay in ``sys.modules`` when it ends."""
    return f"_ba.x({token!r}).pop('m',None)"


def eval_expression(token: Ref, expression: str, guarded: bool) -> str:
    run = f"_ba.v(eval({_u(expression)},_ba.g({token!r})))"
    return f"try:{run}\nfinally:_ba.d()" if guarded else run


def deploy(token: Ref, source: str, collect: bool) -> str:
    """Define a function in the session's namespace (ends with a newline). The host keeps
    its hash; ``belay stats`` lists the namespace's functions. With ``collect`` (small heaps)
    collected first, so the function lands in the lowest free blocks, not at the garbage's
    high-water mark."""
    first = "_ba.gc.collect()\n" if collect else ""
    return f"{first}exec({source!r},_ba.get({token!r})[4])\n"


def call_task(token: Ref, name: str, arguments: str, guarded: bool) -> str:
    """Call a deployed function; ``arguments`` is call-argument source starting with ``,``.
    ``guarded`` (boards with threads): through ``_ba.c``, which ends the call for the reaper
    however it ends; elsewhere straight from the raw REPL's code, at the REPL's own depth."""
    if guarded:
        return f"_ba.c({token!r},{name!r}{arguments})"
    return f"_ba.v(_ba.g({token!r})[{name!r}]({arguments[1:]}))"


def load_part(module: str) -> str:
    """Import an on-demand part of the agent (it installs itself into the core)."""
    return f"__import__({module!r})"


def start_generator(token: str, generator: int, name: str, arguments: str) -> str:
    """Create generator number ``generator`` from deployed ``name`` and step to its first value."""
    return f"_ba.gen({token!r},{generator},{name!r}{arguments})\n" + next_value(token, generator)


def next_value(token: str, generator: int) -> str:
    """Answers ``(1, value)``, or ``0`` when the generator is done."""
    return f"_ba.step({token!r},{generator})"


def drop_generator(token: str, generator: int) -> str:
    return f"_ba.drop({token!r},{generator})"


def collect_garbage() -> str:
    return "_ba.gc.collect()\n"


def proxy_of(token: str, expression: str) -> str:
    """Evaluate ``expression`` in the session's namespace and keep it: a new proxy's id."""
    return f"_ba.P('e',{token!r},{_u(expression)})"


def proxy_op(op: str, token: str, ref: int, path: str, arguments: str = "") -> str:
    """Proxy ``ref``'s object at ``path`` (a tuple literal of steps): get it (``"g"``), call it
    (``"c"``, ``arguments`` as call-argument source starting with ``,``), copy it (``"v"``:
    a literal, else ``(3, type)``), its length (``"l"``), membership (``"n"``), set (``"s"``),
    or a new iterator over it (``"i"``)."""
    return f"_ba.P({op!r},{token!r},{ref},{path}{arguments})"


def proxy_next(token: str, ref: int) -> str:
    return f"_ba.P('x',{token!r},{ref})"


def proxy_drop(token: str, ref: int) -> str:
    return f"_ba.P('d',{token!r},{ref})"


def adopt_proxies(token: str) -> str:
    """After a task that may return ``belay_agent.proxy(obj)``: its objects become the session's."""
    return f"_ba.P('a',{token!r})"


def start_thread(token: str, name: str, function: str, arguments: str, keep: int = 2048) -> str:
    """``arguments`` is a tuple literal; the session's background output keeps its last
    ``keep`` characters (what goes before is marked as dropped)."""
    return f"_ba.thread({token!r},{_u(name)},{function!r},{arguments},{keep})"


def start_timer(
    token: str, name: str, function: str, period_ms: int, arguments: str, keep: int = 2048
) -> str:
    return f"_ba.timer({token!r},{_u(name)},{function!r},{period_ms},{arguments},{keep})"


def cancel_timer(token: str, name: str) -> str:
    return f"_ba.cancel_timer({token!r},{_u(name)})"
