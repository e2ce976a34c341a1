"""Board paths as the host writes them: checked (:func:`check_path`) and joined (:func:`join`).

A leaf: every other part of ``session.fs`` and the CLI use it, and it uses none of them.
"""

from __future__ import annotations

import re

from belay.errors import DeviceValueError

SEPARATORS = re.compile(r"[/\\]")
_DRIVE = re.compile(r"^[A-Za-z]:")


def check_path(
    path: str, *, allow_outside: bool = False, allow_root: bool = False, file: bool = False
) -> str:
    """``path`` normalised (no empty or ``.`` parts); refuses absolute paths and ``..``.

    With ``allow_outside`` only an empty path (or one with a NUL) is refused, and the path is
    passed as given. ``file``: the path names a file to write, so one ending in a separator
    (``lib/``, a folder) is refused.
    """
    if not isinstance(path, str):
        raise DeviceValueError(f"a board path is a str, not {type(path).__name__}")
    if "\x00" in path:
        raise DeviceValueError(f"board path {path!r} contains a NUL character")
    if file and SEPARATORS.match(path[-1:]):
        raise DeviceValueError(
            f"board path {path!r} names a folder (it ends with {path[-1]!r}): name the file"
        )
    if allow_outside:
        if not path and not allow_root:
            raise DeviceValueError("empty board path")
        return path
    if path.startswith(("/", "\\")) or _DRIVE.match(path):
        raise DeviceValueError(
            f"board path {path!r} is absolute: only paths relative to the board's filesystem root "
            "are allowed (pass allow_outside=True to go outside it)"
        )
    if ".." in SEPARATORS.split(path):
        raise DeviceValueError(
            f"board path {path!r} contains '..': it could leave the board's filesystem root "
            "(pass allow_outside=True to allow it)"
        )
    normal = "/".join(part for part in path.split("/") if part not in ("", "."))
    if not normal and not allow_root:
        raise DeviceValueError(f"board path {path!r} names no file")
    return normal


def join(folder: str, name: str) -> str:
    """``name`` inside board folder ``folder`` (either may be empty: the root, or the folder itself)."""
    folder = folder.rstrip("/")
    return f"{folder}/{name}" if folder and name else folder or name


__all__ = ["SEPARATORS", "check_path", "join"]
