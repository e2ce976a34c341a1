"""``belay clean``: remove everything belay left on a board (see the README's footprint)."""

from __future__ import annotations

from rich.console import Console

from belay.agent.install import CleanReport, remove_agent
from belay.container import Container


async def clean_port(container: Container, port: str, *, force: bool, reset: bool) -> CleanReport:
    """Open ``port`` and remove the agent, its sessions and names from the board."""
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
    if report.reset and report.sessions_ended >= 0:
        console.print(
            f"soft-reset {port}: it cannot forget an imported module otherwise", markup=False, soft_wrap=True
        )
