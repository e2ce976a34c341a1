"""``belay info`` (what a board is) and ``belay latency`` (how long a round trip to it takes).

``info`` reads, and changes nothing: it does not load the agent onto a board that lacks it.
``latency`` opens a session and times two calls, interleaved: an empty raw-REPL call (the
link's floor) and a cached task call (what ``await task()`` costs once its code is on the
board).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, cast

from belay.cli.common import EXIT_OK, CliError, add_port_options, choose_port, port_for, port_source

if TYPE_CHECKING:
    from belay.container import Container
    from belay.device import Device

FREE_FLASH = (
    "def _bp():\n try:\n  s=__import__('os').statvfs('/')\n  return s[0]*s[3]\n except Exception:\n"
    "  return None\nprint(repr(_bp()))\ndel _bp\n"
)
"""Free bytes on the board's filesystem, or ``None`` where it cannot tell (no ``statvfs``)."""
MPY_ARCHITECTURES = (None, "x86", "x64", "armv6", "armv6m", "armv7m", "armv7em", "armv7emsp", "armv7emdp",
                     "xtensa", "xtensawin", "rv32imc", "rv64imc")  # fmt: skip
"""The native-code architecture in bits 10 and up of ``sys.implementation._mpy`` (mpy-cross's
``-march`` names)."""
HOST_PLATFORMS = ("linux", "darwin", "freebsd", "win32")
"""``sys.platform`` of MicroPython's unix and windows ports: their filesystem is the host's."""
NOP_TASK = "def belay_latency():\n    pass\n"
QUERY_TIMEOUT = 10.0
"""Seconds any one of these calls may take: a board that stops answering is an error, not a hang."""


async def agent_state(device: Device) -> dict[str, Any]:
    """The agent's state without loading it: loaded (its version and live sessions), on the
    board's filesystem only, or absent."""
    from belay.agent import calls
    from belay.agent.answers import ask
    from belay.errors import DeviceExecError

    if await device.eval_code(calls.agent_loaded(), timeout=QUERY_TIMEOUT):
        version = await ask(device, calls.version(), timeout=QUERY_TIMEOUT)
        sessions = await ask(device, calls.live_sessions(), timeout=QUERY_TIMEOUT)
        return {"state": "loaded", "version": version, "sessions": sessions}
    try:
        on_disk = await device.eval_code(calls.agent_file_there(), timeout=QUERY_TIMEOUT)
    except DeviceExecError:  # no filesystem
        on_disk = False
    return {"state": "on the filesystem, not loaded" if on_disk else "absent", "version": None, "sessions": 0}


async def read_info(container: Container, port: str, how: str) -> dict[str, Any]:
    """Everything ``belay info`` shows, as a JSON-ready dict."""
    from dataclasses import asdict

    from belay.agent.install import agent_version

    device = await container.device_opener(port)
    async with device:
        info, capabilities = device.info, device.capabilities
        free_flash = await device.eval_code(FREE_FLASH, timeout=QUERY_TIMEOUT)
        agent = await agent_state(device)
    agent["host_version"] = agent_version()
    caps = asdict(capabilities)
    # What session.timer needs: machine.Timer, or a thread belay runs the timer on.
    caps["timer"] = capabilities.timer or capabilities.threads
    caps["timer_by"] = "machine.Timer" if capabilities.timer else "a thread" if capabilities.threads else None
    return {
        "port": port,
        "chosen_by": how,
        **{key: value for key, value in asdict(info).items() if key != "port"},
        "version": info.version_text,
        "capabilities": caps,
        "mpy": mpy_format(capabilities.mpy_version),
        "mem_free": capabilities.mem_free,
        "flash_free": free_flash,
        "flash_is_host_disk": info.platform in HOST_PLATFORMS,
        "agent": agent,
    }


def mpy_format(value: int | None) -> dict[str, Any] | None:
    """``sys.implementation._mpy`` decoded: the ``.mpy`` version (low byte), its sub-version
    (bits 8-9) and the architecture native code is built for (bits 10 and up; none: no native
    code in ``.mpy`` files)."""
    if value is None:
        return None
    arch = value >> 10
    return {
        "version": value & 0xFF,
        "sub_version": value >> 8 & 3,
        "arch": MPY_ARCHITECTURES[arch] if arch < len(MPY_ARCHITECTURES) else f"unknown ({arch})",
    }


def _mpy_text(found: dict[str, Any]) -> str:
    mpy, raw = found["mpy"], found["capabilities"]["mpy_version"]
    if mpy is None:
        return "- (the firmware does not say: sys.implementation has no _mpy)"
    arch = f"native code for {mpy['arch']}" if mpy["arch"] else "no native code"
    return f"v{mpy['version']}.{mpy['sub_version']}, {arch} (sys.implementation._mpy = {raw})"


def _flash_text(found: dict[str, Any]) -> str:
    flash = found["flash_free"]
    if flash is None:
        return "unknown (the board has no os.statvfs)"
    if found["flash_is_host_disk"]:
        return f"{flash} B (the host's disk: this board's filesystem is a folder on the host)"
    return f"{flash} B"


def render_info(found: dict[str, Any], out: Any) -> None:
    """``found`` as aligned ``name: value`` lines."""
    caps = found["capabilities"]
    features = [name for name in ("threads", "timer", "schedule", "filesystem", "raw_paste") if caps[name]]
    if caps["timer_by"] == "a thread":
        features[features.index("timer")] = "timer (on a thread)"
    agent = found["agent"]
    agent_text = agent["state"]
    if agent["state"] == "loaded":
        host = agent["host_version"]
        same = "this belay's" if agent["version"] == host else f"this belay has {host}"
        agent_text = f"loaded, version {agent['version']} ({same}), {agent['sessions']} live session(s)"
    lines = [
        ("port", f"{found['port']} (chosen by {found['chosen_by']})"),
        ("implementation", f"{found['implementation']} {found['version']}"),
        ("platform", found["platform"]),
        ("machine", found["machine"] or "-"),
        ("capabilities", ", ".join(features) or "-"),
        ("emitters", ", ".join(caps["emitters"]) or "-"),
        ("mpy version", _mpy_text(found)),
        ("free heap", f"{found['mem_free']} B ({caps['mem_alloc']} B in use)"),
        ("free flash", _flash_text(found)),
        ("agent", agent_text),
    ]
    width = max(len(name) for name, _ in lines)
    for name, value in lines:
        out.write(f"{name + ':':<{width + 1}} {value}\n")


def cmd_info(args: argparse.Namespace, container: Container) -> int:
    import anyio

    port, how = choose_port(args.port, dict(os.environ), container.port_aliases())
    how = port_source(args, dict(os.environ)) or how
    found = anyio.run(read_info, container, port, how)
    if args.json:
        sys.stdout.write(json.dumps(found, indent=2) + "\n")
    else:
        render_info(found, sys.stdout)
    return EXIT_OK


# --- latency ---------------------------------------------------------------------------------


def summary(samples: Sequence[float]) -> dict[str, float]:
    """min, median, p90 and max of ``samples`` (seconds), in milliseconds."""
    import statistics

    ordered = sorted(samples)
    p90 = ordered[min(len(ordered) - 1, max(0, round(0.9 * len(ordered)) - 1))]
    values = (ordered[0], statistics.median(ordered), p90, ordered[-1])
    return {
        name: round(value * 1000, 3)
        for name, value in zip(("min", "median", "p90", "max"), values, strict=True)
    }


async def measure_latency(container: Container, port: str, count: int) -> dict[str, list[float]]:
    """``count`` timed empty calls and cached task calls, alternating, after one warm-up each."""
    manager = container.session_manager()
    async with manager, manager.session(port, on_output=None) as session:
        device = session.board.device
        task = cast("Callable[..., Awaitable[Any]]", session.task(source=NOP_TASK))
        await device.exec("", timeout=QUERY_TIMEOUT)
        await task(timeout=QUERY_TIMEOUT)  # sends the code: later calls are cached
        samples: dict[str, list[float]] = {"empty call": [], "cached task call": []}
        for _ in range(count):
            started = time.perf_counter()
            await device.exec("", timeout=QUERY_TIMEOUT)
            samples["empty call"].append(time.perf_counter() - started)
            started = time.perf_counter()
            await task(timeout=QUERY_TIMEOUT)
            samples["cached task call"].append(time.perf_counter() - started)
    return samples


def render_latency(port: str, count: int, stats: dict[str, dict[str, float]], out: Any) -> None:
    """A rich table of the statistics, one row per kind of call."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"round trips to {port}, {count} each (ms)", title_justify="left",
                  box=box.SIMPLE_HEAD, pad_edge=False)  # fmt: skip
    table.add_column("call", no_wrap=True)
    for name in ("min", "median", "p90", "max"):
        table.add_column(name, justify="right")
    for call, values in stats.items():
        table.add_row(call, *(f"{values[name]:.3f}" for name in ("min", "median", "p90", "max")))
    Console(file=out).print(table)


def cmd_latency(args: argparse.Namespace, container: Container) -> int:
    import anyio

    if args.count < 1:
        raise CliError(f"--count must be at least 1, not {args.count}")
    port = port_for(args, container)
    samples = anyio.run(measure_latency, container, port, args.count)
    stats = {call: summary(values) for call, values in samples.items()}
    if args.json:
        sys.stdout.write(json.dumps({"port": port, "count": args.count, "ms": stats}, indent=2) + "\n")
    else:
        render_latency(port, args.count, stats, sys.stdout)
    return EXIT_OK


def add_parser(commands: Any, name: str) -> None:
    """Register ``belay info`` or ``belay latency`` (``name``)."""
    if name == "info":
        info = commands.add_parser(name, help="show what a board is: firmware, capabilities, memory, agent")
        add_port_options(info)
        info.add_argument("--json", action="store_true", help="print it as JSON")
        info.set_defaults(handler=cmd_info)
        return
    latency = commands.add_parser(name, help="time round trips to a board: an empty call and a "
                                  "cached task call (min, median, p90, max)")  # fmt: skip
    add_port_options(latency)
    latency.add_argument("-n", "--count", type=int, default=100, help="calls of each kind (default 100)")
    latency.add_argument("--json", action="store_true", help="print the statistics as JSON")
    latency.set_defaults(handler=cmd_latency)
