"""From the name a user types to a port :func:`belay.transports.open_transport` opens.

A name is, in order: an alias (from the configuration), a virtual board (``unix``,
``microbit``, with an optional ``?baud=N``), a pyserial URL (``rfc2217://...``), ``id:SERIAL``
(a USB serial number), ``VID:PID`` (hex, as ``2e8a:0005``), mpremote's shortcuts (``a0`` for
``/dev/ttyACM0``, ``u0`` for ``/dev/ttyUSB0``, ``c0`` for ``COM0``), a path that exists, or a
unique prefix of a connected port's path or name (``/dev/ttyACM``, ``ttyUSB``, ``mic``).
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from belay.errors import PortNotFoundError

if TYPE_CHECKING:
    from belay.transports.discovery import PortInfo

VIRTUAL_BOARDS = ("unix", "microbit")
"""The virtual boards' names (also ``belay.transports.VIRTUAL_BOARDS``)."""
LAB_PREFIX = "labgrid:"
"""What a lab port (a labgrid place, ``belay.transports.lab``) starts with."""


def is_lab_port(port: str) -> bool:
    """Whether ``port`` names a labgrid place (``labgrid:PLACE``) or its tags (``labgrid:K=V``)."""
    return port.startswith(LAB_PREFIX)


_VID_PID = re.compile(r"^([0-9a-fA-F]{1,4}):([0-9a-fA-F]{1,4})$")
_SHORTCUTS = {"a": "/dev/ttyACM", "u": "/dev/ttyUSB", "c": "COM"}
_SHORTCUT = re.compile(r"^([auc])(\d+)$")


def resolve_port_name(
    name: str, aliases: Mapping[str, str], *, ports: Sequence[PortInfo] | None = None
) -> str:
    """The port ``name`` stands for; ``ports`` (default: the connected serial ports) for tests.

    Raises :class:`PortNotFoundError` when nothing matches (naming the closest names), or when a
    serial number, ``VID:PID`` or prefix matches several ports (naming them).
    """
    name = aliases.get(name, name)
    if name.partition("?")[0] in VIRTUAL_BOARDS or "://" in name or is_lab_port(name):
        return name
    shortcut = _SHORTCUT.match(name)
    if shortcut and not os.path.exists(name):
        return _SHORTCUTS[shortcut.group(1)] + shortcut.group(2)
    if os.path.exists(name):
        return name
    found = _connected() if ports is None else list(ports)
    if name.startswith("id:"):
        return _one(name, [p for p in found if p.serial_number == name[3:]], found)
    ids = _VID_PID.match(name)
    if ids:
        vid, pid = int(ids.group(1), 16), int(ids.group(2), 16)
        return _one(name, [p for p in found if (p.vid, p.pid) == (vid, pid)], found)
    return _one(name, _by_prefix(name, found, aliases), found, aliases)


def _connected() -> list[PortInfo]:
    from belay.transports.discovery import list_serial_ports

    return list_serial_ports()


def _by_prefix(name: str, found: Sequence[PortInfo], aliases: Mapping[str, str]) -> list[str]:
    """The ports and virtual boards whose path, or the path's last part, starts with ``name``."""
    matches = [board for board in VIRTUAL_BOARDS if board.startswith(name)]
    matches += [alias for alias in aliases if alias.startswith(name)]
    for port in found:
        if port.device.startswith(name) or os.path.basename(port.device).startswith(name):
            matches.append(port.device)
    return matches


def _one(
    name: str,
    matches: Sequence[PortInfo] | Sequence[str],
    found: Sequence[PortInfo],
    aliases: Mapping[str, str] | None = None,
) -> str:
    """The single match, or a :class:`PortNotFoundError` saying why not."""
    names = [m if isinstance(m, str) else m.device for m in matches]
    if len(names) == 1:
        return (aliases or {}).get(names[0], names[0])
    if names:
        raise PortNotFoundError(f"{name} matches several ports: {', '.join(names)}", port=name)
    raise PortNotFoundError(f"no such port: {name}{_suggestion(name, found, aliases or {})}", port=name)


def _suggestion(name: str, found: Sequence[PortInfo], aliases: Mapping[str, str]) -> str:
    """`` (did you mean unix?)``, from the names a user could have meant; or nothing."""
    candidates = [*VIRTUAL_BOARDS, *aliases]
    for port in found:
        candidates.append(port.device)
        if port.serial_number:
            candidates.append(f"id:{port.serial_number}")
        if port.vid is not None and port.pid is not None:
            candidates.append(f"{port.vid:04x}:{port.pid:04x}")
    scores = {c: difflib.SequenceMatcher(None, name, c).ratio() for c in dict.fromkeys(candidates)}
    best = max(scores.values(), default=0.0)
    close = [c for c, score in scores.items() if score >= max(0.6, best - 0.02)][:3]  # the closest only
    return f" (did you mean {' or '.join(close)}?)" if close else ""
