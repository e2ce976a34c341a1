"""labgrid ports in a pytest run: the header's lines, each board's place in the reports, and the
place of a worker that crashed released.

The header is written before any worker opens its board, so for a lab port it names the places
(and their exporters) the run's workers will take theirs from, as the coordinator lists them;
which place each worker got is known once it has opened it, and is named in the ``belay boards``
summary and the JUnit properties (``belay_place``, ``belay_exporter``). A worker that crashes
never releases its place (labgrid keeps it acquired): the xdist controller, which saw the place
in the worker's reports, releases it (:class:`CrashedWorkers`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import pytest

from belay.errors import BelayError
from belay.options import SessionOptions
from belay.transports import LabOptions
from belay.transports.lab_client import LabClient, LabPlace, LabSettings, PlaceAddress, parse_lab_port
from belay.transports.port_names import is_lab_port

logger = logging.getLogger(__name__)


def place_properties(transport: object) -> list[tuple[str, str]]:
    """The place and exporter a ``labgrid:`` port's transport is on, as ``(name, value)`` pairs
    (none for other transports)."""
    where = getattr(transport, "where", None)
    if not isinstance(where, PlaceAddress):
        return []
    acquired = "true" if getattr(transport, "releases", False) else "false"
    return [("belay_place", where.place), ("belay_exporter", where.exporter),
            ("belay_address", f"{where.host}:{where.port}"), ("belay_acquired", acquired)]  # fmt: skip


def header_lines(assigned: Sequence[str], options: SessionOptions) -> list[str]:
    """What the header says of the lab ports among ``assigned`` (each process's port), asking the
    coordinator for its places once."""
    lab_ports = [port for port in dict.fromkeys(assigned) if is_lab_port(port)]
    if not lab_ports:
        return []
    import anyio

    client = LabClient(LabSettings.of(LabOptions.of(options)))
    try:
        places = anyio.run(client.places)
    except BelayError as error:
        return [f"belay: the labgrid coordinator could not list its places: {error}"]
    wait = options.lab_wait
    return [line for port in lab_ports for line in _port_lines(port, places, assigned.count(port), wait)]


def _port_lines(port: str, places: list[LabPlace], workers: int, wait: float) -> list[str]:
    try:
        name, tags = parse_lab_port(port)
    except BelayError as error:
        return [f"belay: {error}"]
    chosen = [place for place in places if (place.name == name if name else place.has(tags))]
    if not chosen:
        return [f"belay: {port}: the labgrid coordinator lists no such place"]
    listed = ", ".join(_describe(place) for place in chosen)
    lines = [f"belay: {port} -> {listed}; each worker's place is in 'belay boards' below"]
    if name is None and workers > len(chosen):
        lines.append(
            f"belay: {workers} workers for {len(chosen)} place(s) with {port[len('labgrid:') :]}: a worker "
            f"without one waits up to {wait:g} s (lab_wait) for one, then its tests fail"
        )
    return lines


def _describe(place: LabPlace) -> str:
    held = f", held by {place.holder}" if place.holder else ""
    return f"{place.name} (exporter {','.join(place.exporters) or '?'}{held})"


class CrashedWorkers:
    """A pytest plugin object (in the xdist controller): the place a crashed worker held, when
    belay acquired it (``belay_acquired``: not one acquired by hand), released for it."""

    def __init__(self, options: SessionOptions) -> None:
        self.options = options
        self.places: dict[str, str] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        properties = {str(name): str(value) for name, value in report.user_properties}
        if properties.get("belay_acquired") == "true" and "belay_worker" in properties:
            self.places[properties["belay_worker"]] = properties["belay_place"]

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: object) -> None:
        place = self.places.pop(str(node.gateway.id), None)
        if error is None or place is None:
            return
        import anyio

        client = LabClient(LabSettings.of(LabOptions.of(self.options)))
        try:
            anyio.run(client.release, place)
        except BelayError as failed:
            said = f"worker {node.gateway.id} crashed holding labgrid place {place}, not released: {failed}"
        else:
            said = f"worker {node.gateway.id} crashed holding labgrid place {place}: released it"
        logger.warning("belay: %s", said)
        reporter = node.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"belay: {said}")
