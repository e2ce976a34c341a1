"""What a test requires of its board (``belay_requires``), and the board's identity in reports.

Identity needs the board open, and a serial port opens once (an xdist worker holds it), so the
controller never opens boards for the header: each test that used a board carries its identity
as ``belay_*`` user properties (in the JUnit XML testcase), and :class:`BoardReport` gathers them
from the reports (which xdist forwards) into a terminal summary and JUnit testsuite properties
(added to the file ``--junitxml`` wrote: no private pytest API).
"""

from __future__ import annotations

import logging
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from typing import Any

import pytest

from belay.board_info import FEATURES, Capabilities, DeviceInfo

logger = logging.getLogger(__name__)

REQUIRES_MARKER = "belay_requires"
PROPERTY_PREFIX = "belay_"
PLACE_NAMES = ("belay_place", "belay_exporter")
"""The properties that name a lab port's place and its exporter."""


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
    """``micropython 1.24.0 on linux (PORT)``; a lab port's place and exporter after the port."""
    where = properties.get("belay_port", "?")
    if "belay_place" in properties:
        where += f": place {properties['belay_place']} on exporter {properties.get('belay_exporter', '?')}"
    return (
        f"{properties.get('belay_implementation', '?')} {properties.get('belay_version', '?')} "
        f"on {properties.get('belay_platform', '?')} ({where})"
    )


class BoardReport:
    """A pytest plugin object (in the controller): which board each worker tested.

    ``junit_xml`` is the file ``--junitxml`` writes (absolute), if any: the boards are added to
    its testsuite properties (``belay_board_<worker>``) once pytest has written it.
    """

    def __init__(self, junit_xml: str | None = None) -> None:
        self.boards: dict[str, dict[str, str]] = {}
        self.junit_xml = junit_xml

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        properties = {str(name): str(value) for name, value in report.user_properties
                      if str(name).startswith(PROPERTY_PREFIX)}  # fmt: skip
        if "belay_port" in properties:
            self.boards.setdefault(properties.get("belay_worker", "main"), properties)

    def lines(self) -> list[str]:
        return [f"{worker}: {describe(props)}" for worker, props in sorted(self.boards.items())]

    def suite_properties(self) -> list[tuple[str, str]]:
        """``belay_board_<worker>``; for a lab port also ``belay_place_<worker>`` and
        ``belay_exporter_<worker>``."""
        found = []
        for worker, props in sorted(self.boards.items()):
            found.append((f"belay_board_{worker}", describe(props)))
            found += [(f"{name}_{worker}", props[name]) for name in PLACE_NAMES if name in props]
        return found

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.boards:
            terminalreporter.section("belay boards")
            for line in self.lines():
                terminalreporter.write_line(line)

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self) -> None:
        """After pytest's junitxml wrote the report (in its own ``pytest_sessionfinish``): pytest's
        ``record_testsuite_property`` does not reach the controller of an xdist run."""
        if self.junit_xml and self.boards:
            add_suite_properties(self.junit_xml, self.suite_properties())


def add_suite_properties(path: str, properties: list[tuple[str, str]]) -> None:
    """Add ``properties`` to the ``<testsuite>`` of the JUnit XML file at ``path``."""
    try:
        tree = ET.parse(path)
    except (OSError, ET.ParseError) as error:
        logger.warning("belay: cannot add the boards to %s: %s", path, error)
        return
    root = tree.getroot()
    suite = root if root.tag == "testsuite" else root.find("testsuite")
    if suite is None:
        logger.warning("belay: %s has no <testsuite> for the boards", path)
        return
    node = suite.find("properties")
    if node is None:
        node = ET.Element("properties")
        suite.insert(0, node)
    for name, value in properties:
        ET.SubElement(node, "property", name=name, value=value)
    tree.write(path, encoding="utf-8", xml_declaration=True)
