"""What a test requires of its board (``belay_requires``), and the board's identity in reports.

Identity needs the board open, and a serial port opens once (an xdist worker holds it), so the
controller never opens boards for the header: each test that used a board carries its identity
as ``belay_*`` user properties (in the JUnit XML testcase), and :class:`BoardReport` gathers them
from the reports (which xdist forwards) into a terminal summary and JUnit testsuite properties.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import pytest

from belay.board_info import FEATURES, Capabilities, DeviceInfo

REQUIRES_MARKER = "belay_requires"
PROPERTY_PREFIX = "belay_"


def unknown_requirements(names: Iterable[str]) -> list[str]:
    return [name for name in names if name not in FEATURES]


def missing_capabilities(capabilities: Capabilities, names: Iterable[str]) -> list[str]:
    """The required capabilities the board lacks. ``timer`` means what ``session.timer`` needs:
    ``machine.Timer`` or threads (the unix port runs timers as threads)."""
    missing = []
    for name in names:
        has = capabilities.timer or capabilities.threads if name == "timer" else capabilities.has(name)
        if not has:
            missing.append(name)
    return missing


def identity_properties(info: DeviceInfo, worker: str) -> list[tuple[str, str]]:
    """The board's identity as JUnit-friendly ``(name, value)`` pairs."""
    return [
        ("belay_worker", worker),
        ("belay_port", info.port),
        ("belay_implementation", info.implementation),
        ("belay_version", info.version_text),
        ("belay_platform", info.platform),
    ]


def describe(properties: dict[str, str]) -> str:
    return (
        f"{properties.get('belay_implementation', '?')} {properties.get('belay_version', '?')} "
        f"on {properties.get('belay_platform', '?')} ({properties.get('belay_port', '?')})"
    )


class BoardReport:
    """A pytest plugin object (in the controller): which board each worker tested."""

    def __init__(self) -> None:
        self.boards: dict[str, dict[str, str]] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        properties = {str(name): str(value) for name, value in report.user_properties
                      if str(name).startswith(PROPERTY_PREFIX)}  # fmt: skip
        if "belay_port" in properties:
            self.boards.setdefault(properties.get("belay_worker", "main"), properties)

    def lines(self) -> list[str]:
        return [f"{worker}: {describe(props)}" for worker, props in sorted(self.boards.items())]

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.boards:
            terminalreporter.section("belay boards")
            for line in self.lines():
                terminalreporter.write_line(line)

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Testsuite properties for the JUnit XML (written by junitxml's own sessionfinish)."""
        try:
            from _pytest.junitxml import xml_key
        except ImportError:  # pragma: no cover - a pytest without it
            return
        xml = session.config.stash.get(xml_key, None)
        if xml is None:
            return
        for worker, properties in sorted(self.boards.items()):
            xml.add_global_property(f"belay_board_{worker}", describe(properties))
