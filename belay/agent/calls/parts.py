"""The call that removes partial files of puts whose sessions the board no longer holds."""

from __future__ import annotations

from belay.agent.sources import minified_device_file
from belay.literals import uninterned as _u

TEMP_PREFIX = ".belay-"
"""How the partial files of puts begin (``belay.session.files`` names them so)."""

_HELD = "[r[0] for r in _ba.S.values()] if '_ba' in globals() else []"
"""Board code: the ids of the sessions the agent holds."""


def sweep_parts(*, every: bool = False, roomy: bool = True, unless_loaded: bool = False) -> str:
    """Remove the ``.belay-<session>-<n>.part`` files (and ``.<k>`` pieces) whose session the
    agent does not hold (``every``: all of them, as ``belay clean`` does once the agent is
    gone); answers how many it removed. A roomy board's whole tree is walked
    (``device/part_sweep.py``); a small one's working folder only (the micro:bit has no
    folders), in a few lines that leave nothing behind; with ``unless_loaded``, only where the
    agent is not in the board's RAM (it booted since: every partial file there is stale)."""
    keep = "[]" if every else _HELD
    unless = "'_ba' not in globals() else ()" if unless_loaded else "1 else ()"
    if not roomy:  # one name (_ba_k, which other calls use too) and no short literal: no new qstr
        prefix, dash = _u(TEMP_PREFIX), _u("-")
        return (
            f"_ba_k=[{keep},0,0]\nfor _ba_k[2] in __import__('os').listdir() if {unless}:\n"
            f" if _ba_k[2][:7]=={prefix} and _ba_k[2][7:].split({dash})[0] not in _ba_k[0]:\n"
            "  __import__('os').remove(_ba_k[2])\n  _ba_k[1]+=1\n"
            "print('\\x1e'+repr(_ba_k[1]))\ndel _ba_k"
        )
    code = minified_device_file("part_sweep.py").decode()
    return f"{code}try:print('\\x1e'+repr(_ba_p('',{keep})))\nfinally:del _ba_p"
