"""Small JSON files in the user's cache folder (``platformdirs``): what a process found at some
cost, kept for the processes after it. Written whole or not at all; a file that is missing, not
JSON, or cannot be written (a read-only home) only means the work is done again."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

logger = logging.getLogger(__name__)


def cache_path(name: str) -> Path:
    """The file ``name`` in belay's folder of the user's cache."""
    from platformdirs import user_cache_dir  # only when a cache is first read: start-up

    return Path(user_cache_dir("belay", appauthor=False)) / name


def read_entries(name: str) -> dict[str, object]:
    """The entries kept in ``name``; empty when there are none to trust."""
    try:
        known = json.loads(cache_path(name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return known if isinstance(known, dict) else {}


def write_entries(name: str, entries: dict[str, object], *, most: int) -> None:
    """Keep the newest ``most`` of ``entries`` in ``name``, replacing what it held."""
    target = cache_path(name)
    kept = dict(list(entries.items())[-most:])
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        temp = target.with_name(f".{target.name}.{os.getpid()}.part")
        temp.write_text(json.dumps(kept), encoding="utf-8")
        os.replace(temp, target)
    except OSError as error:
        logger.debug("not kept in %s: %s", target, error)
