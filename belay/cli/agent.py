"""``belay stats``, ``belay reap`` and ``belay clean``: what the device agent holds on a board,
ending the sessions whose hosts went silent, and removing everything belay left there.

``device/agent_stats.py`` (sent on demand, to spare the agent's heap) prints one dict:
``version``, ``sessions`` (by id: ``age_ms``, ``idle_ms``, ``lease_ms``, ``threads``
{name: [state, error]}, ``timers``, ``methods`` {name: hash}, ``files``, ``proxies``, ``output``,
``modules`` (the names the session first imported, removed when it ends)),
``reaped`` (not yet collected by a host), ``zombies`` ({"session/thread": [state, error]}:
threads still running after their session ended), ``mem_free`` and ``mem_alloc``.
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from belay.cli.common import EXIT_OK, add_port_options, port_for

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from belay.agent.install import CleanReport
    from belay.container import Container
    from belay.session.records import ReapedSession

THREAD_STATES = ("running", "finished", "crashed")


async def read_board_stats(container: Container, port: str) -> dict[str, Any]:
    """Open ``port``, load the agent if it is missing, read its stats.

    A board running another agent version is refused rather than reset: that would end its
    sessions.
    """
    from belay.agent import calls
    from belay.agent.answers import ask
    from belay.agent.install import FOREIGN, MISSING, NO_MEMORY, agent_version, ensure_agent, loaded_version
    from belay.agent.stats_record import stats_record
    from belay.errors import SessionError

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
    from rich import box
    from rich.table import Table

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
    for name in ("age", "lease", "threads", "timers", "funcs", "files", "proxies", "modules", "output"):
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
            str(len(record.get("modules", []))),
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


async def reap_port(
    container: Container, port: str, *, every: bool, journal: Path, allow_reset: bool = True
) -> tuple[list[ReapedSession], bool]:
    """Open ``port``, reap (every session with ``every``: a board out of memory is soft-reset
    unless not ``allow_reset``), journal each reaped session; returns them and whether the
    board was reset."""
    from belay.journal import FileJournal
    from belay.session.reaping import journal_reaped, reap_all_or_reset, reap_board

    device = await container.device_opener(port, reset_if_full=every and allow_reset)
    async with device:
        if every:
            reaped, reset = await reap_all_or_reset(device, allow_reset=allow_reset)
            reset |= device.reboots > 0  # reset already while opening: it was too full to probe
        else:
            reaped, reset = await reap_board(device), False
    log = FileJournal(journal)
    journal_reaped(log, port, reaped, by="belay reap --all" if every else "belay reap")
    if reset:
        log.record("reset", port=port, reason="out of memory", by="belay reap --all")
    return reaped, reset


def render_reaped(
    reaped: list[ReapedSession], port: str, journal: Path, console: Console, reset: bool = False
) -> None:
    """One line per reaped session (and one per problem with its cleanup), then the journal's path."""
    if reset:
        console.print(f"{port} was out of memory: soft-reset it, which ended every session there",
                      markup=False, soft_wrap=True)  # fmt: skip
        console.print(f"journaled in {journal}", markup=False, soft_wrap=True)
        return
    if not reaped:
        console.print(f"nothing to reap on {port}", markup=False)
        return
    for item in reaped:
        idle = f"silent for {format_ms(item.idle_ms)}" if item.idle_ms >= 0 else "left by a lost connection"
        console.print(f"reaped session {item.session_id} on {port} ({idle})", markup=False, soft_wrap=True)
        for problem in item.problems:
            console.print(f"  {problem}", markup=False, soft_wrap=True)
    console.print(f"journaled in {journal}", markup=False, soft_wrap=True)


async def clean_port(container: Container, port: str, *, force: bool, reset: bool) -> CleanReport:
    """Open ``port`` and remove the agent, its sessions and names from the board."""
    from belay.agent.install import CleanReport, remove_agent

    device = await container.device_opener(port, reset_if_full=force and reset)
    async with device:
        reset_opening = device.reboots > 0  # it was too full to be probed
        report = await remove_agent(device, force=force, reset=reset)
    return CleanReport(-1, True) if reset_opening else report


def render_clean(report: CleanReport, port: str, console: Console) -> None:
    if report.sessions_ended < 0:
        console.print(
            f"{port} was out of memory: soft-reset it, which ended every session there", markup=False
        )
    ended = f", ended {report.sessions_ended} session(s)" if report.sessions_ended > 0 else ""
    console.print(f"removed the belay agent from {port}{ended}", markup=False, soft_wrap=True)
    for zombie in report.zombies:
        console.print(
            f"thread {zombie} was still running on {port} after its session ended (a zombie)",
            markup=False,
            soft_wrap=True,
        )
    if report.zombies and not report.reset:
        console.print(
            f"only a reset stops it: run belay clean without --no-reset, or belay reset -p {port}",
            markup=False,
            soft_wrap=True,
        )
    elif report.reset and report.sessions_ended >= 0:
        why = "to stop the thread(s) above" if report.zombies else "it cannot forget an imported module"
        why += "" if report.zombies else " otherwise"
        console.print(f"soft-reset {port}: {why}", markup=False, soft_wrap=True)


def cmd_stats(args: argparse.Namespace, container: Container) -> int:
    import anyio
    from rich.console import Console

    port = port_for(args, container)
    stats = anyio.run(read_board_stats, container, port)
    if args.json:
        sys.stdout.write(stats_json(stats, port) + "\n")
    else:
        render_stats(stats, port, Console(file=sys.stdout))
    return EXIT_OK


def cmd_reap(args: argparse.Namespace, container: Container) -> int:
    import anyio
    from rich.console import Console

    from belay.journal import default_journal_path

    port = port_for(args, container)
    configured = container.options().journal_path
    journal = Path(args.journal) if args.journal else configured or default_journal_path()
    reap = functools.partial(
        reap_port, container, port, every=args.all, journal=journal, allow_reset=not args.no_reset
    )
    reaped, reset = anyio.run(reap)
    render_reaped(reaped, port, journal, Console(file=sys.stdout), reset=reset)
    return EXIT_OK


def cmd_clean(args: argparse.Namespace, container: Container) -> int:
    import anyio
    from rich.console import Console

    port = port_for(args, container)
    clean = functools.partial(clean_port, container, port, force=args.force, reset=not args.no_reset)
    render_clean(anyio.run(clean), port, Console(file=sys.stdout))
    return EXIT_OK


def add_parser(commands: Any, name: str) -> None:
    """Register ``belay stats``, ``belay reap`` or ``belay clean`` (``name``)."""
    if name == "stats":
        stats = commands.add_parser(
            name, help="show the sessions the belay agent holds on a board, and its heap"
        )
        add_port_options(stats)
        stats.add_argument("--json", action="store_true", help="print the agent's stats as JSON")
        stats.set_defaults(handler=cmd_stats)
    elif name == "reap":
        reap = commands.add_parser(
            name, help="end the sessions on a board whose leases ran out (their hosts went silent)"
        )
        add_port_options(reap)
        reap.add_argument("--all", action="store_true", help="end every session on the board, live or "
                          "not (when no host uses it any more)")  # fmt: skip
        reap.add_argument("--no-reset", action="store_true", help="with --all, never soft-reset a board too "
                          "full to end its sessions (the default resets it, saying so)")  # fmt: skip
        reap.add_argument("--journal", help="journal file (default: $BELAY_JOURNAL_PATH, else in the "
                          "user's state directory)")  # fmt: skip
        reap.set_defaults(handler=cmd_reap)
    else:
        clean = commands.add_parser(
            name, help="remove everything belay left on a board: its agent, files and names"
        )
        add_port_options(clean)
        clean.add_argument(
            "--force", action="store_true", help="end live sessions too (their hosts lose them)"
        )
        clean.add_argument("--no-reset", action="store_true", help="never soft-reset the board (a "
                           "board without sys.modules then keeps the agent in RAM, and a thread "
                           "still running after its session ended runs on, till a reset)")  # fmt: skip
        clean.set_defaults(handler=cmd_clean)
