"""The dependency-injection container the front doors (CLI, pytest plugin) wire belay with.

Library code takes its collaborators through constructors; only this module knows how
they are made. Override a provider to swap one, e.g. in a test::

    container = Container()
    container.transport_factory.override(providers.Object(my_factory))
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from dependency_injector import containers, providers

from belay.device import Device
from belay.journal import Journal, open_journal
from belay.options import SessionOptions
from belay.session.manager import DeviceSessionManager, open_device
from belay.transports import open_transport


def _options(overrides: dict[str, Any] | None) -> SessionOptions:
    """``BELAY_*`` variables first, then whatever the configuration sets explicitly."""
    return SessionOptions.from_mapping(overrides or {}, base=SessionOptions.from_env())


def _session_manager(
    options: SessionOptions, transport_factory: Any, id_generator: Any, token_generator: Any,
    clock: Any, journal: Journal,
) -> DeviceSessionManager:  # fmt: skip
    """A manager whose boards open through the container's transport factory."""

    async def opener(port: str, board_options: SessionOptions) -> Device:
        return await open_device(port, board_options, transport_factory)

    return DeviceSessionManager(
        options, device_opener=opener, id_generator=id_generator, token_generator=token_generator,
        clock=clock, journal=journal,
    )  # fmt: skip


def _journal(options: SessionOptions) -> Journal:
    return open_journal(options.journal_path)


class Container(containers.DeclarativeContainer):
    """Providers of every collaborator: options, clock, ids, transports, devices, session managers."""

    config = providers.Configuration()

    options = providers.Singleton(_options, config.options)
    clock = providers.Object(time.monotonic)
    wall_clock = providers.Object(time.time)
    # 12 characters: a board's compiler interns string constants of up to 10 for good.
    id_generator = providers.Object(lambda: secrets.token_hex(6))
    # The secret the agent knows a session by: 64 random bits, 11 characters on the wire.
    token_generator = providers.Object(lambda: secrets.token_urlsafe(8))
    journal = providers.Singleton(_journal, options)
    transport_factory = providers.Object(open_transport)
    device_opener = providers.Callable(open_device, options=options, transport_factory=transport_factory)
    session_manager = providers.Factory(
        _session_manager,
        options=options,
        transport_factory=transport_factory,
        id_generator=id_generator,
        token_generator=token_generator,
        clock=clock,
        journal=journal,
    )
