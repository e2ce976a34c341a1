"""The on-board agent's names, each spelled once: what it is called in the REPL's globals, the
modules and files it is made of, and how a session is named in its calls.

Every string that names the agent lives in :mod:`belay.agent` (a test holds the rest of belay
to that); code elsewhere asks this package, e.g. :func:`is_agent_file`.
"""

from __future__ import annotations

import fnmatch

AGENT = "_ba"
"""The agent's one name in the REPL's globals (its helpers' names start ``_ba_``)."""

FILE_PREFIX = "belay_agent"
"""What the names of the agent's modules and files start with."""

CORE_MODULE = FILE_PREFIX
THREADS_MODULE = f"{FILE_PREFIX}_threads"
ON_DEMAND_MODULES = {"generators": f"{FILE_PREFIX}_generators", "proxies": f"{FILE_PREFIX}_proxies"}
"""Parts written with the agent and imported only when a session first needs them, by what they serve."""
AGENT_MODULES = (CORE_MODULE, THREADS_MODULE, *ON_DEMAND_MODULES.values())
"""The modules the agent's files import as (forgotten on boards with ``sys.modules``)."""

_FILE_PATTERNS = (f"{FILE_PREFIX}*.py", f"{FILE_PREFIX}*.mpy")

Ref = str | int
"""What names a session in its calls: its token, or the handle its ``begin`` answered."""


def file_name(module: str) -> str:
    """The file on the board that ``module`` (one of :data:`AGENT_MODULES`) is written to."""
    return f"{module}.py"


def is_agent_file(name: str) -> bool:
    """Whether a file name (a traceback's, a listing's) is one of the agent's files."""
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in _FILE_PATTERNS)
