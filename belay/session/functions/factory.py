"""Making a session's remote functions from a host function or its source: a task, a generator
task or a thread, each calling through the session (or, with telemetry on, through a view of it
whose calls are labelled with the function's name)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from belay.errors import DeviceValueError
from belay.session.context import SessionContext
from belay.session.functions.source import remote_code
from belay.session.functions.tasks import Task, Thread
from belay.session.metered import LabelledCalls

if TYPE_CHECKING:
    from belay.session.functions.generators import GeneratorTask


def make_task(
    session: SessionContext, labelled: bool, function: Callable[..., Any] | None, source: str | None
) -> Task | GeneratorTask:
    """A task (or a generator task) of ``function`` or the def in ``source``; raises
    :class:`DeviceValueError` for what cannot run on the board."""
    code = remote_code(function, source=source)
    calls_as = LabelledCalls(session, "task", code.name) if labelled else session
    if code.is_generator:
        from belay.session.functions.generators import GeneratorTask

        return GeneratorTask(calls_as, function, code=code)
    return Task(calls_as, function, code=code)


def make_thread(
    session: SessionContext, labelled: bool, function: Callable[..., Any] | None, source: str | None
) -> Thread:
    """A tracked background thread of ``function`` or the def in ``source``; raises
    :class:`DeviceValueError` for a generator and what :func:`make_task` refuses."""
    code = remote_code(function, source=source)
    if code.is_generator:
        raise DeviceValueError(f"{code.name} is a generator: a thread cannot yield values to the host")
    return Thread(LabelledCalls(session, "task", code.name) if labelled else session, function, code=code)
