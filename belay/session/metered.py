"""What a session with telemetry on hands its helpers: calls labelled for metrics and spans,
and a tracker that counts what is registered in it (see :mod:`belay.telemetry`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from belay.board_info import Capabilities
from belay.link import OutputCallback
from belay.session.context import DEFAULT, SessionContext, Timeout
from belay.session.tracker import ResourceTracker, SessionResource


class LabelledCalls:
    """``session`` as its helpers see it, whose calls count as ``kind`` (``"file"``, or
    ``"task"`` with the task's ``name``); everything else is the session's own."""

    def __init__(self, session: SessionContext, kind: str, name: str | None = None) -> None:
        self._session = session
        self._kind = kind
        self._name = name
        # what a call reads every time, looked up once (none of them changes in a session's life)
        self.session_id, self.token, self.resources = session.session_id, session.token, session.resources

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._session, attribute)

    @property
    def capabilities(self) -> Capabilities:
        return self._session.capabilities

    @property
    def ref(self) -> str | int:
        return self._session.ref  # read on every call: not through __getattr__

    async def run(
        self, code: str, *, timeout: Timeout = DEFAULT, on_output: OutputCallback | None = None,
        kind: str | None = None, name: str | None = None,
    ) -> str:  # fmt: skip
        """The session's ``run``, labelled as this view's calls (``kind``/``name`` given win)."""
        return await self._session.run(
            code, timeout=timeout, on_output=on_output, kind=kind or self._kind, name=name or self._name
        )

    async def run_value(
        self, code: str, *, timeout: Timeout = DEFAULT, kind: str | None = None, name: str | None = None
    ) -> Any:
        """The session's ``run_value``, labelled as this view's calls."""
        return await self._session.run_value(
            code, timeout=timeout, kind=kind or self._kind, name=name or self._name
        )

    def __repr__(self) -> str:
        return repr(self._session)


class MeteredTracker(ResourceTracker):
    """A tracker that calls ``registered(resource_type)`` for each thing newly registered."""

    def __init__(self, registered: Callable[[str], None]) -> None:
        super().__init__()
        self._registered = registered

    def register_background_thread(self, name: str) -> None:
        super().register_background_thread(name)
        self._registered("thread")

    def register_deployed_method(self, signature: str, code_hash: str) -> None:
        if not self.is_method_deployed(signature, code_hash):
            self._registered("method")
        super().register_deployed_method(signature, code_hash)

    def register_timer(self, name: str) -> None:
        if name not in self.timers():
            self._registered("timer")
        super().register_timer(name)

    def register_file(self, path: str) -> None:
        if path not in self.files():
            self._registered("file")
        super().register_file(path)

    def register(self, resource: SessionResource) -> SessionResource:
        self._registered(resource.resource_type)
        return super().register(resource)
