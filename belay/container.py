"""The dependency-injection container the front doors (CLI, pytest plugin) wire belay with.

Library code takes its collaborators through constructors; only this module knows how they
are made. :func:`from_config` builds one configured from a dict, the project's ``belay.toml``
or ``[tool.belay]`` table, and ``BELAY_*`` variables (see :mod:`belay.config`). Override a
provider to swap a part, e.g. in a test::

    container = from_config({"call_timeout": 2.0})
    container.clock.override(providers.Object(fake_clock))
    container.transport_factory.override(providers.Object(my_factory))
    async with container.session_manager() as manager, container.session("lab") as session:
        ...
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Mapping
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any

from dependency_injector import containers, providers

from belay.config import load_config
from belay.options import SessionOptions
from belay.transports import open_transport

if TYPE_CHECKING:
    from opentelemetry.metrics import Meter
    from opentelemetry.trace import Tracer

    from belay.device import Device
    from belay.journal import Journal
    from belay.session.manager import DeviceSessionManager
    from belay.session.session import DeviceSession

# The session stack, the journal and OpenTelemetry are imported when a provider first makes
# what needs them: a command that opens no board (``belay ports``) pays for none of them.


def _options(overrides: dict[str, Any] | None, environment_read: bool | None) -> SessionOptions:
    """The options the configuration sets, over ``BELAY_*`` of the process's environment, unless
    the configuration read an environment already (:func:`from_config` does: the one it was
    given, which then wins)."""
    base = SessionOptions() if environment_read else SessionOptions.from_env()
    return SessionOptions.from_mapping(overrides or {}, base=base)


def _session_manager(
    options: SessionOptions, transport_factory: Any, id_generator: Any, token_generator: Any,
    clock: Any, journal: Journal, meter: providers.Provider[Any], tracer: providers.Provider[Any],
) -> DeviceSessionManager:  # fmt: skip
    """A manager whose boards open through the container's transport factory. The meter and
    tracer are made only where they can be used: metrics on, or a provider overridden (else
    the manager takes the same global ones itself, if a session turns metrics on)."""
    from belay.session.manager import DeviceSessionManager

    async def opener(port: str, board_options: SessionOptions) -> Device:
        return await _open_device(port, board_options, transport_factory)

    wanted = options.enable_metrics
    return DeviceSessionManager(
        options, device_opener=opener, id_generator=id_generator, token_generator=token_generator,
        clock=clock, journal=journal, meter=meter() if wanted or meter.overridden else None,
        tracer=tracer() if wanted or tracer.overridden else None,
    )  # fmt: skip


async def _open_device(port: str, options: SessionOptions, transport_factory: Any, **how: Any) -> Device:
    """:func:`belay.session.manager.open_device`, imported when a board is first opened."""
    from belay.session.manager import open_device

    return await open_device(port, options, transport_factory, **how)


def _journal(options: SessionOptions) -> Journal:
    from belay.journal import open_journal

    return open_journal(options.journal_path, options.journal_max_bytes)


def _default_meter() -> Meter:
    from belay.telemetry import default_meter

    return default_meter()


def _default_tracer() -> Tracer:
    from belay.telemetry import default_tracer

    return default_tracer()


def _aliases(ports: Mapping[str, str] | None) -> dict[str, str]:
    return dict(ports or {})


def resolve_alias(port: str, aliases: Mapping[str, str]) -> str:
    """The port an alias of the configuration's ``[ports]`` stands for (others unchanged)."""
    return aliases.get(port, port)


def _session(
    port: str, manager: DeviceSessionManager, aliases: dict[str, str], **options: Any
) -> AbstractAsyncContextManager[DeviceSession]:
    """``manager.session(port)``, the port's alias resolved."""
    from belay.session.output import STDOUT

    options.setdefault("on_output", STDOUT)
    session: AbstractAsyncContextManager[DeviceSession] = manager.session(
        resolve_alias(port, aliases), **options
    )
    return session


class Container(containers.DeclarativeContainer):
    """Providers of every collaborator: options, clock, ids, transports, journal, meter, tracer,
    the session manager (one per container) and its sessions."""

    config = providers.Configuration()

    options = providers.Singleton(_options, config.options, config.environment_read)
    port_aliases = providers.Callable(_aliases, config.ports)
    clock = providers.Object(time.monotonic)
    wall_clock = providers.Object(time.time)
    # 12 characters: a board's compiler interns string constants of up to 10 for good.
    id_generator = providers.Object(lambda: secrets.token_hex(6))
    # The secret the agent knows a session by: 64 random bits, 11 characters on the wire.
    token_generator = providers.Object(lambda: secrets.token_urlsafe(8))
    journal = providers.Singleton(_journal, options)
    meter = providers.Singleton(_default_meter)
    tracer = providers.Singleton(_default_tracer)
    transport_factory = providers.Object(open_transport)
    device_opener = providers.Callable(_open_device, options=options, transport_factory=transport_factory)
    session_manager = providers.Singleton(
        _session_manager,
        options=options,
        transport_factory=transport_factory,
        id_generator=id_generator,
        token_generator=token_generator,
        clock=clock,
        journal=journal,
        meter=meter.provider,
        tracer=tracer.provider,
    )
    session = providers.Factory(_session, manager=session_manager, aliases=port_aliases)


def from_config(
    values: Mapping[str, Any] | None = None,
    *,
    start: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    use_file: bool = True,
) -> Container:
    """A container configured by :func:`belay.config.load_config` (``values``, then the file
    found from ``start`` upwards, then ``BELAY_*``). Raises :class:`~belay.config.ConfigError`."""
    container = Container()
    config = load_config(values, start=start, environ=environ, use_file=use_file)
    container.config.from_dict({**config, "environment_read": True})
    return container


__all__ = ["Container", "from_config", "resolve_alias"]
