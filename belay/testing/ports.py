"""Which board each pytest process tests: ``--belay-port``, ``BELAY_PORT``, the ``belay_port`` ini key.

Without pytest-xdist the run tests one board: the first port listed (the header says so when more
are listed). With ``-n N`` worker ``gwI`` tests port ``I`` of the list; workers beyond the list
get their own virtual boards again (``unix`` and ``microbit`` start a board per worker), but a
serial port or URL is opened by one process only, so more workers than boards is refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from belay.transports import VIRTUAL_BOARDS
from belay.transports.port_names import is_lab_port

DEFAULT_PORT = "unix"
ENV_VAR = "BELAY_PORT"


class PortPlanError(ValueError):
    """The ports and the number of workers do not fit together (shown as a pytest usage error)."""


def requested_ports(option: Sequence[str] | None, env: str | None, ini: Sequence[str]) -> tuple[str, ...]:
    """The ports asked for: the command line, else ``BELAY_PORT`` (comma-separated), else the ini."""
    for source in (option or (), (env or "").split(","), ini):
        ports = tuple(port.strip() for port in source if port.strip())
        if ports:
            return ports
    return (DEFAULT_PORT,)


def is_virtual(port: str) -> bool:
    """Whether ``port`` names a virtual board, of which every process may start its own."""
    return port in VIRTUAL_BOARDS


def is_shareable(port: str) -> bool:
    """Whether every process may open ``port`` and get a board of its own: a virtual board, or
    labgrid tags (``labgrid:board=esp32``: each process reserves a free place with them)."""
    return is_virtual(port) or (is_lab_port(port) and "=" in port)


def worker_index(worker_id: str | None) -> int | None:
    """``gw3`` -> 3; ``None`` (not an xdist worker) -> ``None``."""
    if worker_id is None:
        return None
    digits = worker_id.removeprefix("gw")
    if not digits.isdigit():
        raise PortPlanError(f"cannot tell the index of xdist worker {worker_id!r}")
    return int(digits)


@dataclass(frozen=True, slots=True)
class PortPlan:
    """The ports of a run and how many xdist workers share them (0: no xdist)."""

    ports: tuple[str, ...]
    workers: int = 0

    def __post_init__(self) -> None:
        real = [port for port in self.ports if not is_shareable(port)]
        twice = sorted({port for port in real if real.count(port) > 1})
        if twice:
            raise PortPlanError(
                f"--belay-port {', '.join(twice)} is listed twice: a serial port can be opened by one "
                "process only (virtual boards may be listed again)"
            )
        if self.workers > len(self.ports) and not self._virtual:
            raise PortPlanError(
                f"pytest-xdist starts {self.workers} workers but --belay-port lists {len(self.ports)} "
                f"board(s) ({', '.join(self.ports)}), and a serial port can be opened by one worker "
                f"only: use -n {len(self.ports)}, or list more boards"
            )

    @property
    def _virtual(self) -> list[str]:
        return [port for port in self.ports if is_shareable(port)]

    def port_for(self, index: int | None) -> str:
        """The port of worker ``index`` (``None``: the only process of a run without xdist)."""
        if index is None or index < len(self.ports):
            return self.ports[index or 0]
        virtual = self._virtual
        return virtual[(index - len(self.ports)) % len(virtual)]

    def describe(self) -> list[str]:
        """Lines for the pytest header: which process tests which board, and what is not tested."""
        if not self.workers:
            lines = [f"belay: testing on {self.ports[0]}"]
            if len(self.ports) > 1:
                lines.append(
                    f"belay: {len(self.ports)} ports given without pytest-xdist: only {self.ports[0]} is "
                    f"tested ({', '.join(self.ports[1:])} not); run with -n {len(self.ports)} to test each"
                )
            return lines
        assigned = [f"gw{index} -> {self.port_for(index)}" for index in range(self.workers)]
        lines = [f"belay: {self.workers} workers, one board each: {', '.join(assigned)}"]
        unused = self.ports[self.workers :]
        if unused:
            lines.append(f"belay: not tested (fewer workers than ports): {', '.join(unused)}")
        return lines
