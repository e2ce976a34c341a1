"""Calls that load, find and remove the agent on a board (``device/belay_agent*.py``)."""

from __future__ import annotations

from collections.abc import Iterable

from belay.agent.calls.files import unpacked
from belay.agent.names import AGENT_MODULES, CORE_MODULE, file_name
from belay.literals import dumps_for_board
from belay.literals import uninterned as _u

REAPER_PERIOD_MS = 250
"""How often the agent's reaper looks for sessions whose lease ran out (milliseconds)."""


def import_agent() -> str:
    """Import the core (a bare statement: on the micro:bit a ``try`` around it can tip the
    compiler's peak heap use over the edge)."""
    return "import belay_agent as _ba"


def agent_loaded() -> str:
    """Prints whether the agent is loaded (its name is in the REPL's globals)."""
    return "print(repr('_ba' in globals()))"


def agent_file_there() -> str:
    """Prints whether the agent's core file is on the board's filesystem (loaded or not)."""
    return f"print(repr({file_name(CORE_MODULE)!r} in __import__('os').listdir()))"


def version() -> str:
    """The loaded agent's version; ``None`` when the module is not the agent (a user's file,
    which has no ``_ba.v``: the answer is printed by hand)."""
    return "print('\\x1e'+repr(getattr(_ba,'VERSION',None)))"


def start_threads() -> str:
    """Load the threads part (it installs itself into the core) and start the reaper."""
    return f"__import__('belay_agent_threads')\n_ba.start_reaper({REAPER_PERIOD_MS})"


def root() -> str:
    """The board's filesystem root as the agent saw it when imported ("" without ``getcwd``)."""
    return "_ba.v(_ba.ROOT)"


def write_file_open(name: str) -> str:
    return f"_ba_f=open({_u(name)},'wb')"


def write_file_chunk(chunk: bytes) -> str:
    return f"_ba_f.write({_u(chunk)})"


def write_file_close() -> str:
    return "_ba_f.close()\ndel _ba_f"


def can_inflate() -> str:
    """Prints whether the board has ``deflate`` to inflate a zlib stream (no agent needed)."""
    return (
        "try:_ba_k=hasattr(__import__('deflate'),'DeflateIO')\nexcept ImportError:_ba_k=False\n"
        "print(repr(_ba_k))\ndel _ba_k"
    )


def write_files_packed(
    literal: bytes, escapes: bytes, packed: bool, names: list[str], ends: list[int]
) -> bytes:
    """Write files from one raw literal (a zlib stream if ``packed``; see :func:`unpacked`): file ``i``,
    named ``names[i]``, is the inflated bytes ``ends[i]:ends[i+1]`` (``ends[0]`` is 0)."""
    loop = (
        f"_ba_e=({dumps_for_board(names)},{ends!r})\n"
        "for _ba_k in range(len(_ba_e[0])):\n"
        f" _ba_n=open(_ba_e[0][_ba_k],{_u('wb')})\n"
        " _ba_n.write(memoryview(_ba_f)[_ba_e[1][_ba_k]:_ba_e[1][_ba_k+1]])\n _ba_n.close()\n"
        "del _ba_f,_ba_k,_ba_e,_ba_n"
    )
    return unpacked(literal, escapes, packed) + loop.encode()


def forget_agent() -> str:
    """Drop a module that is not the agent (a user's file of that name) so the board can
    import the agent instead (boards with ``sys.modules``)."""
    return (
        "globals().pop('_ba',None)\nif hasattr(__import__('sys'),'modules'):\n"
        f" for _ba_k in {AGENT_MODULES!r}: __import__('sys').modules.pop(_ba_k,None)\n"
        " del _ba_k"
    )


def live_sessions() -> str:
    """How many sessions the agent holds whose lease has not run out (``-1``: no agent)."""
    return (
        "print('\\x1e'+repr(len([1 for r in _ba.S.values() if _ba.ticks_diff(_ba.ticks_ms(),r[2])<=r[1]])"
        " if '_ba' in globals() and hasattr(_ba,'S') else -1))"
    )


def remove_agent(files: Iterable[str]) -> str:
    """``belay clean``: end every session, stop the reaper, remove the agent's files, modules
    and names; answers how many sessions it ended and the threads still running after their
    sessions ended (zombies, ``"session/thread"``: only a reset stops them)."""
    return (
        "_ba_n=0\n_ba_z=[]\nif '_ba' in globals() and hasattr(_ba,'reap'):\n"
        " _ba_n=len(_ba.S)\n _ba.reap('host')\n del _ba.reaped[:]\n _ba_w=getattr(_ba,'W',None)\n"
        " if _ba_w:\n  _ba_z=sorted(_ba.zombies())\n"
        "  if _ba_w[0] not in (None,1): _ba_w[0].deinit()\n  _ba_w[0]=None\n del _ba_w\n"
        f"for _ba_k in {list(files)!r}:\n try:\n  __import__('os').remove(_ba_k)\n except OSError:\n  pass\n"
        "if hasattr(__import__('sys'),'modules'):\n"
        f" for _ba_k in {AGENT_MODULES!r}: __import__('sys').modules.pop(_ba_k,None)\n"
        "print('\\x1e'+repr((_ba_n,_ba_z)))\n"
        "for _ba_k in ('_ba','_ba_f','_ba_n','_ba_z','_ba_k'): globals().pop(_ba_k,None)\n"
        "__import__('gc').collect()"
    )
