"""When a call must be done by: one value instead of an ``(until, timeout)`` pair.

>>> deadline = Deadline.after(2.0)      # on anyio's clock, so inside an event loop
>>> with deadline.scope():              # raises TimeoutError at ``deadline.at``
...     ...
"""

from __future__ import annotations

import contextlib
import math
from contextlib import AbstractContextManager
from dataclasses import dataclass

import anyio


@dataclass(frozen=True, slots=True)
class Deadline:
    """An absolute time on anyio's clock (``at``; ``inf``: none) and the budget it was made
    from (``seconds``, as given: ``None`` or ``inf`` for none), kept for messages."""

    at: float
    seconds: float | None = None

    @classmethod
    def after(cls, seconds: float | None) -> Deadline:
        """``seconds`` from now; unbounded if ``seconds`` is ``None`` or infinite."""
        if seconds is None or not math.isfinite(seconds):
            return cls(math.inf, seconds)
        return cls(anyio.current_time() + seconds, seconds)

    @classmethod
    def never(cls) -> Deadline:
        return cls(math.inf)

    @property
    def unbounded(self) -> bool:
        return not math.isfinite(self.at)

    def remaining(self) -> float:
        """Seconds left (never negative; ``inf`` when unbounded)."""
        if self.unbounded:
            return math.inf
        return max(0.0, self.at - anyio.current_time())

    @property
    def expired(self) -> bool:
        return not self.unbounded and self.remaining() <= 0.0

    @property
    def budget(self) -> float:
        """The seconds it was given (``inf`` when unbounded), for messages and errors."""
        return math.inf if self.seconds is None or self.unbounded else self.seconds

    def scope(self) -> AbstractContextManager[object]:
        """A scope that raises :class:`TimeoutError` at ``at`` (does nothing when unbounded)."""
        return contextlib.nullcontext() if self.unbounded else anyio.fail_at(self.at)

    def __str__(self) -> str:
        return "no deadline" if self.unbounded else f"{self.budget:g}s"
