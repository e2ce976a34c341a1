"""Wire belay from its container: settings from a dict (under belay.toml / [tool.belay] and
BELAY_*), a port alias, and two parts swapped by overriding providers.

python examples/container_overrides.py
"""

from __future__ import annotations

import anyio
from dependency_injector import providers

from belay.container import from_config
from belay.transports import Transport, open_transport


async def main() -> None:
    container = from_config({"call_timeout": 5.0, "ports": {"bench": "unix"}})
    opened: list[str] = []

    async def logged_transport(port: str) -> Transport:  # e.g. a lab's own transport, or a fake
        opened.append(port)
        return await open_transport(port)

    ticks = iter(range(1_000_000))
    container.transport_factory.override(providers.Object(logged_transport))
    container.clock.override(providers.Object(lambda: float(next(ticks))))  # a deterministic clock
    async with container.session_manager() as manager, container.session("bench") as session:
        print("2 + 3 =", await session.eval("2 + 3"), "on", session.device_info.describe())
    print("transports opened:", opened, "| sessions:", await manager.stats())


if __name__ == "__main__":
    anyio.run(main)
