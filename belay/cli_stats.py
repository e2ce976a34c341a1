"""``belay stats``: what the device agent holds on a board, as a table or as JSON.

``device/agent_stats.py`` (sent on demand, to spare the agent's heap) prints one dict:
``version``, ``sessions`` (by id: ``age_ms``, ``idle_ms``, ``lease_ms``, ``threads``
{name: [state, error]}, ``timers``, ``methods`` {name: hash}, ``files``, ``proxies``, ``output``),
``reaped`` (not yet collected by a host), ``zombies`` ({"session/thread": [state, error]}:
threads still running after their session ended), ``mem_free`` and ``mem_alloc``.
"""

from __future__ import annotations

import json
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

from belay.agent import calls
from belay.agent.answers import ask
from belay.agent.install import FOREIGN, MISSING, NO_MEMORY, agent_version, ensure_agent, loaded_version
from belay.agent.stats_record import stats_record
from belay.container import Container
from belay.errors import SessionError

THREAD_STATES = ("running", "finished", "crashed")


async def read_board_stats(container: Container, port: str) -> dict[str, Any]:
    """Open ``port``, load the agent if it is missing, read its stats.

    A board running another agent version is refused rather than reset: that would end its
    sessions.
    """
    device = await container.device_opener(port)
    async with device:
        version = await loaded_version(device)
        if version in (MISSING, FOREIGN, NO_MEMORY):  # none yet, or one that needs a fresh heap: (re)load it
            await ensure_agent(device)
        elif version != agent_version():
            raise SessionError(
                f"the board on {port} runs belay agent {version}, this belay reads {agent_version()}: "
                "reset the board (which ends its sessions) or use the belay that started them"
            )
        return stats_record(await ask(device, calls.stats()), port)


def format_ms(ms: int) -> str:
    """A duration for people: ``850ms``, ``12.3s``, ``4m05s``, ``2h03m``."""
    if ms < 1000:
        return f"{ms}ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f}s"
    seconds = ms // 1000
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds // 60 % 60:02d}m"


def lease_left(record: dict[str, Any]) -> str:
    """How long the board keeps the session without hearing from its host; ``expired``: reapable."""
    left = int(record.get("lease_ms", 0)) - int(record.get("idle_ms", 0))
    return format_ms(left) if left > 0 else "expired"


def thread_counts(record: dict[str, Any]) -> dict[str, int]:
    counts = dict.fromkeys(THREAD_STATES, 0)
    for state, _error in record.get("threads", {}).values():
        counts[state] = counts.get(state, 0) + 1
    return counts


def threads_cell(record: dict[str, Any]) -> str:
    """Threads running, finished and crashed: ``2/0/1``."""
    counts = thread_counts(record)
    return "/".join(str(counts[state]) for state in THREAD_STATES)


def sessions_table(stats: dict[str, Any], port: str) -> Table:
    table = Table(
        title=f"sessions on {port}",
        title_justify="left",
        caption="threads: running/finished/crashed",
        caption_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
    )
    table.add_column("session", no_wrap=True, min_width=12)
    for name in ("age", "lease", "threads", "timers", "funcs", "files", "proxies", "output"):
        table.add_column(name, justify="right", no_wrap=True)
    for sid, record in sorted(stats["sessions"].items()):
        table.add_row(
            sid,
            format_ms(int(record.get("age_ms", 0))),
            lease_left(record),
            threads_cell(record),
            str(len(record.get("timers", []))),
            str(len(record.get("methods", {}))),
            str(len(record.get("files", []))),
            str(record.get("proxies", 0)),
            f"{record.get('output', 0)} B",
        )
    return table


def heap_line(stats: dict[str, Any]) -> str:
    used, free = int(stats.get("mem_alloc", 0)), int(stats.get("mem_free", 0))
    share = f" ({100 * used // (used + free)}% used)" if used + free else ""
    reaped = len(stats.get("reaped", []))
    return (
        f"agent {stats.get('version', '?')}: heap {used} B in use, {free} B free{share}; "
        f"{reaped} session(s) reaped recently"
    )


def render_stats(stats: dict[str, Any], port: str, console: Console) -> None:
    """The sessions as a table (or a line saying there are none), crashed threads, the heap."""
    if stats["sessions"]:
        console.print(sessions_table(stats, port))
    else:
        console.print(f"no sessions on {port}", markup=False)
    for sid, record in sorted(stats["sessions"].items()):
        for name, (state, error) in sorted(record.get("threads", {}).items()):
            if state == "crashed":
                console.print(f"session {sid}: thread {name} crashed: {error}", markup=False, soft_wrap=True)
    for name in sorted(stats.get("zombies", {})):
        console.print(f"thread {name} is still running after its session ended", markup=False, soft_wrap=True)
    console.print(heap_line(stats), markup=False, highlight=False, soft_wrap=True)


def stats_json(stats: dict[str, Any], port: str) -> str:
    """The agent's stats as JSON, with the port they came from."""
    return json.dumps({"port": port, **stats}, indent=2)
