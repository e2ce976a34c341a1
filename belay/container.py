"""The dependency-injection container the front doors (CLI, pytest plugin) wire belay with.

Library code takes its collaborators through constructors; only this module knows how
they are made. Override a provider to swap one, e.g. in a test::

    container = Container()
    container.transport_factory.override(providers.Object(my_factory))
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from dependency_injector import containers, providers

from belay.device import Device
from belay.options import SessionOptions
from belay.transports import open_transport


def _options(overrides: dict[str, Any] | None) -> SessionOptions:
    """``BELAY_*`` variables first, then whatever the configuration sets explicitly."""
    return SessionOptions.from_mapping(overrides or {}, base=SessionOptions.from_env())


async def _open_device(port: str, options: SessionOptions, transport_factory: Any) -> Device:
    return await Device.open(
        port,
        transport_factory=transport_factory,
        call_timeout=options.call_timeout,
        sync_timeout=options.sync_timeout,
    )


class Container(containers.DeclarativeContainer):
    """Providers of every collaborator: options, clock, ids, transports, devices."""

    config = providers.Configuration()

    options = providers.Singleton(_options, config.options)
    clock = providers.Object(time.monotonic)
    wall_clock = providers.Object(time.time)
    id_generator = providers.Object(lambda: uuid.uuid4().hex)
    transport_factory = providers.Object(open_transport)
    device_opener = providers.Callable(
        lambda port, options, factory: _open_device(port, options, factory),
        options=options,
        factory=transport_factory,
    )
