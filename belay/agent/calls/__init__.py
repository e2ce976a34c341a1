"""Every string the host sends to the device agent, one function per agent entry point.

Only :mod:`belay.agent` knows the agent's names (``_ba`` in the REPL's globals, its functions
and record layout, ``device/belay_agent*.py``). Each function returns the code of one raw-REPL
call (or a piece of one); values come back through ``_ba.v``, read by
:mod:`belay.agent.answers`. Tokens and ids are passed as string literals longer than ten
characters: the board's compiler interns shorter constants for good, so every other string or
bytes that may be short (code, paths, names, data) goes through
:func:`belay.literals.uninterned`.

The calls are grouped by what they serve, and all are reached as ``calls.NAME``:

- :mod:`~belay.agent.calls.lifecycle`: loading, finding and removing the agent;
- :mod:`~belay.agent.calls.sessions`: beginning, renewing, ending and reaping sessions;
- :mod:`~belay.agent.calls.code`: a session's statements, expressions, functions, proxies, threads;
- :mod:`~belay.agent.calls.files`: moving files up and down;
- :mod:`~belay.agent.calls.tree`: hashed walks of file trees, folders;
- :mod:`~belay.agent.calls.parts`: sweeping the partial files of puts that never finished.
"""

from __future__ import annotations

from belay.agent.calls.code import *  # noqa: F403
from belay.agent.calls.files import *  # noqa: F403
from belay.agent.calls.lifecycle import *  # noqa: F403
from belay.agent.calls.parts import *  # noqa: F403
from belay.agent.calls.sessions import *  # noqa: F403
from belay.agent.calls.tree import *  # noqa: F403
