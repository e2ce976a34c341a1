"""What a board is (:class:`DeviceInfo`) and what it can do (:class:`Capabilities`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from belay.errors import DeviceValueError

FEATURES = ("threads", "timer", "schedule", "filesystem", "raw_paste", "native", "viper")
"""Names accepted by :meth:`Capabilities.has` (and the pytest plugin's ``belay_requires``)."""


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """A board's identity: where it is and which MicroPython it runs."""

    port: str
    implementation: str
    version: tuple[int, ...]
    platform: str
    machine: str

    @property
    def version_text(self) -> str:
        return ".".join(str(part) for part in self.version)

    def describe(self) -> str:
        return f"{self.implementation} {self.version_text} on {self.platform} ({self.port})"


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a board offers, detected in one round trip when the device opens."""

    threads: bool
    timer: bool
    schedule: bool
    filesystem: bool
    raw_paste: bool
    emitters: tuple[str, ...]
    mpy_version: int | None
    has_module_registry: bool
    mem_free: int
    mem_alloc: int

    @property
    def heap(self) -> int:
        """The board's whole heap in bytes (free and in use, as the probe found it)."""
        return self.mem_free + self.mem_alloc

    @property
    def native(self) -> bool:
        return "native" in self.emitters

    @property
    def viper(self) -> bool:
        return "viper" in self.emitters

    def has(self, feature: str) -> bool:
        """Whether the board has ``feature`` (one of :data:`FEATURES`)."""
        if feature not in FEATURES:
            raise ValueError(f"unknown capability {feature!r}; known: {', '.join(FEATURES)}")
        return bool(getattr(self, feature))


PROBE_FIELDS = (
    "implementation", "version", "platform", "machine", "mpy", "threads", "timer", "schedule",
    "filesystem", "modules_dict", "emitters", "mem_free", "mem_alloc",
)  # fmt: skip
"""The order of the values in the tuple ``device/probe.py`` prints."""


def parse_probe(port: str, answer: Any, raw_paste: bool) -> tuple[DeviceInfo, Capabilities]:
    """Turn the tuple the probe printed into records; raises :class:`DeviceValueError` for
    anything malformed (a missing field, a wrong type, ``inf`` where an int belongs)."""
    if not isinstance(answer, tuple) or len(answer) != len(PROBE_FIELDS):
        raise DeviceValueError(f"the board's capability probe answered {answer!r:.300}")
    probe = dict(zip(PROBE_FIELDS, answer, strict=True))
    try:
        info = DeviceInfo(
            port=port,
            implementation=str(probe["implementation"]),
            version=tuple(int(part) for part in probe["version"]),
            platform=str(probe["platform"]),
            machine=str(probe["machine"]),
        )
        mpy = probe["mpy"]
        capabilities = Capabilities(
            threads=bool(probe["threads"]),
            timer=bool(probe["timer"]),
            schedule=bool(probe["schedule"]),
            filesystem=bool(probe["filesystem"]),
            raw_paste=raw_paste,
            emitters=tuple(str(name) for name in probe["emitters"]),
            mpy_version=None if mpy is None else int(mpy),
            has_module_registry=bool(probe["modules_dict"]),
            mem_free=int(probe["mem_free"]),
            mem_alloc=int(probe["mem_alloc"]),
        )
    except (KeyError, TypeError, ValueError, ArithmeticError) as error:  # int(inf): OverflowError
        raise DeviceValueError(f"the board's capability probe answered {answer!r:.300}") from error
    return info, capabilities
