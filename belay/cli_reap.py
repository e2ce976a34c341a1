"""``belay reap``: end the sessions on a board whose hosts went silent, and journal them."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from belay.cli_stats import format_ms
from belay.container import Container
from belay.journal import FileJournal
from belay.session.reaping import journal_reaped, reap_all_or_reset, reap_board
from belay.session.records import ReapedSession


async def reap_port(
    container: Container, port: str, *, every: bool, journal: Path, allow_reset: bool = True
) -> tuple[list[ReapedSession], bool]:
    """Open ``port``, reap (every session with ``every``: a board out of memory is soft-reset
    unless not ``allow_reset``), journal each reaped session; returns them and whether the
    board was reset."""
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
