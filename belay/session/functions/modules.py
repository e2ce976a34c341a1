"""Modules a session first imports are its resources (issue 26.11).

On boards with threads (the agent's guarded calls), the agent notes the modules that appear in
``sys.modules`` during a session's call as that session's, and removes them when it ends (unless
``SessionOptions.keep_modules``): their heap is freed and the next import reads the file as it
is then. ``exec`` answers the session's list (and :meth:`DeviceSession.board_stats` reads it),
and the host counts each as a :class:`~belay.session.tracker.ModuleResource`. On boards
without ``sys.modules`` (the micro:bit) a module cannot be forgotten: it stays loaded until the
board resets.
"""

from __future__ import annotations

import logging
from typing import Any

from belay import literals
from belay.errors import DeviceValueError
from belay.session.tracker import ModuleResource, ResourceTracker

logger = logging.getLogger(__name__)


def adopt_modules(resources: ResourceTracker, answer: bytes | list[Any]) -> None:
    """Count the modules named (``exec``'s answer: a list of names, ``0`` where the board does
    not track modules; or ``belay stats``'s list) that ``resources`` does not hold yet."""
    names = answer if isinstance(answer, list) else _read(answer)
    known = {resource.resource_id for resource in resources.active_resources()}
    for name in names:
        if isinstance(name, str) and f"module-{name}" not in known:
            resources.register(ModuleResource(name))


def _read(answer: bytes) -> list[Any]:
    try:
        names = literals.loads(answer.decode("utf-8", "surrogateescape").strip())
    except DeviceValueError:
        logger.debug("exec answered %r, not the session's modules", answer[:100])
        return []
    return names if isinstance(names, list) else []


__all__ = ["adopt_modules"]
