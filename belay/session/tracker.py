"""What one session left on its board, recorded on the host (the agent keeps the mirror)."""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Awaitable, Callable

import anyio

from belay.errors import ResourceCleanupError
from belay.session.records import ResourceUsageStats

logger = logging.getLogger(__name__)


class SessionResource(ABC):
    """Something a session holds that must be released when it ends."""

    def __init__(self, resource_id: str, resource_type: str, estimated_cost: float = 1.0) -> None:
        self.resource_id = resource_id
        self.resource_type = resource_type
        self.estimated_cost = estimated_cost
        self.created_at = time.time()

    @abstractmethod
    async def cleanup(self) -> None:
        """Release the resource; raise if it could not be."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.resource_type}:{self.resource_id}>"


class CallbackResource(SessionResource):
    """A resource released by calling ``release()`` (sync or async)."""

    def __init__(
        self,
        resource_id: str,
        resource_type: str,
        release: Callable[[], Awaitable[None] | None],
        estimated_cost: float = 1.0,
    ) -> None:
        super().__init__(resource_id, resource_type, estimated_cost)
        self._release = release

    async def cleanup(self) -> None:
        result = self._release()
        if result is not None:
            await result


class ModuleResource(SessionResource):
    """A module a session's code first imported: the agent removes it from ``sys.modules``
    when the session ends (unless ``SessionOptions.keep_modules``), freeing its heap."""

    def __init__(self, name: str) -> None:
        super().__init__(f"module-{name}", "module")
        self.name = name

    async def cleanup(self) -> None:
        """Nothing to send: ending the session on the board removes its modules."""


class ResourceTracker:
    """One session's records: background threads, deployed methods, timers, files, custom resources."""

    def __init__(self) -> None:
        self._threads: dict[str, str] = {}
        self._methods: dict[str, str] = {}
        self._timers: set[str] = set()
        self._files: set[str] = set()
        self._resources: dict[str, SessionResource] = {}

    # --- background threads -----------------------------------------------------------

    def register_background_thread(self, name: str) -> None:
        self._threads[name] = "running"

    def unregister_background_thread(self, name: str) -> None:
        self._threads.pop(name, None)

    def active_threads(self) -> list[str]:
        return [name for name, state in self._threads.items() if state == "running"]

    def update_thread_states(self, states: dict[str, str]) -> None:
        """Take the agent's view of which threads still run."""
        for name, state in states.items():
            if name in self._threads:
                self._threads[name] = state

    # --- deployed methods ----------------------------------------------------------------

    def register_deployed_method(self, signature: str, code_hash: str) -> None:
        self._methods[signature] = code_hash

    def is_method_deployed(self, signature: str, code_hash: str) -> bool:
        return self._methods.get(signature) == code_hash

    def deployed_methods(self) -> dict[str, str]:
        return dict(self._methods)

    # --- timers and files ------------------------------------------------------------------

    def register_timer(self, name: str) -> None:
        self._timers.add(name)

    def unregister_timer(self, name: str) -> None:
        self._timers.discard(name)

    def timers(self) -> list[str]:
        return sorted(self._timers)

    def register_file(self, path: str) -> None:
        self._files.add(path)

    def unregister_file(self, path: str) -> None:
        self._files.discard(path)

    def files(self) -> list[str]:
        return sorted(self._files)

    # --- custom resources ------------------------------------------------------------------

    def register(self, resource: SessionResource) -> SessionResource:
        self._resources[resource.resource_id] = resource
        return resource

    def unregister(self, resource_id: str) -> None:
        self._resources.pop(resource_id, None)

    def active_resources(self) -> list[SessionResource]:
        return list(self._resources.values())

    def stats(self) -> ResourceUsageStats:
        by_type = Counter(resource.resource_type for resource in self._resources.values())
        by_type.update({"thread": len(self.active_threads()), "timer": len(self._timers)})
        by_type.update({"method": len(self._methods), "file": len(self._files)})
        counts = {kind: count for kind, count in by_type.items() if count}
        return ResourceUsageStats(
            total=sum(counts.values()),
            total_cost=sum(r.estimated_cost for r in self._resources.values()),
            by_type=counts,
            background_threads=len(self.active_threads()),
            deployed_methods=len(self._methods),
            timers=len(self._timers),
        )

    async def cleanup(self, timeout: float = 30.0) -> None:
        """Release every custom resource (newest first), even when some fail, within ``timeout``.

        Raises one :class:`ResourceCleanupError` listing every failure and every resource
        still unreleased when time ran out.
        """
        failures: list[tuple[str, BaseException]] = []
        pending = list(reversed(self._resources.values()))
        with anyio.move_on_after(timeout, shield=True):
            while pending:
                resource = pending[0]
                try:
                    await resource.cleanup()
                except Exception as error:
                    failures.append((repr(resource), error))
                self._resources.pop(resource.resource_id, None)
                pending.pop(0)
        failures.extend((repr(r), TimeoutError(f"not released within {timeout:g}s")) for r in pending)
        self.forget_board_records()
        if failures:
            raise ResourceCleanupError(f"{len(failures)} resource(s) could not be released", failures)

    def forget_board_records(self) -> None:
        """Drop the board-side records (the agent removed them, or the board is gone)."""
        self._threads.clear()
        self._methods.clear()
        self._timers.clear()
        self._files.clear()
