"""Generator tasks: ``async for value in readings(10):`` steps a generator on the board.

Each value is one call, made when the host asks for it, so the board runs the generator
exactly as far as Python would (a sensor loop is read at the host's pace, nothing piles up
on the board) and the first value arrives as soon as it is produced. Breaking out of the
loop leaves the generator suspended on the board until :meth:`RemoteGenerator.aclose`, the
host dropping it, or the session's end; a cancelled or timed-out step interrupts the board,
which ends that generator, and the session goes on.
"""

from __future__ import annotations

import itertools
import weakref
from typing import Any

from belay.agent import calls
from belay.errors import DeviceExecError, DeviceValueError
from belay.literals import call_arguments
from belay.session.context import DEFAULT, Timeout
from belay.session.functions.tasks import RemoteFunction

_numbers = itertools.count(1)


class GeneratorTask(RemoteFunction):
    """A generator function run on the board: ``gen(*args, timeout=None)`` gives a
    :class:`RemoteGenerator` (``timeout`` bounds each step)."""

    def __call__(self, *args: Any, **kwargs: Any) -> RemoteGenerator:
        timeout = self._split_timeout(kwargs)
        return RemoteGenerator(self, call_arguments(args, kwargs), timeout)


class RemoteGenerator:
    """The values of one generator on the board, as an async iterator.

    Raises :class:`~belay.errors.DeviceExecError` (with the board's traceback) from the step
    where the generator raised, :class:`~belay.errors.DeviceTimeoutError` when a step takes
    longer than its ``timeout`` (the board is interrupted).
    """

    def __init__(self, task: GeneratorTask, arguments: str, timeout: Timeout = DEFAULT) -> None:
        self.task = task
        self.number = next(_numbers)
        self._arguments = arguments
        self._timeout = timeout
        self._started = False
        self._done = False
        self._on_board = weakref.finalize(self, _drop_later, task, self.number)
        self._on_board.detach()  # attached once the board holds it

    def __aiter__(self) -> RemoteGenerator:
        return self

    async def __anext__(self) -> Any:
        if self._done:
            raise StopAsyncIteration
        try:
            answer = await self.task.session.run_value(self._next_code(), timeout=self._timeout)
        except DeviceExecError as error:
            self._failed()
            raise self.task.hinted(error) from None
        except BaseException:  # cancelled or timed out: the interrupt ended it on the board
            self._failed()
            raise
        self.task.deployed()
        if answer == 0:
            self._finish()
            raise StopAsyncIteration
        if not (isinstance(answer, tuple) and len(answer) == 2):
            raise DeviceValueError(f"generator {self.task.__name__}: the board answered {answer!r:.100}")
        return answer[1]

    async def aclose(self) -> None:
        """Drop the generator on the board (its ``finally`` blocks do not run there)."""
        if self._started and not self._done:
            self._finish()
            if self.task.session.is_active:
                await self.task.session.run(calls.drop_generator(self.task.session.token, self.number))
        self._done = True

    def _next_code(self) -> str:
        session = self.task.session
        if self._started:
            return calls.next_value(session.token, self.number)
        code = self.task.deploy_code() + session.board.once_per_boot("generators")
        code += calls.start_generator(session.token, self.number, self.task.code.name, self._arguments)
        self._started = True
        self._on_board = weakref.finalize(self, _drop_later, self.task, self.number)
        return code

    def _failed(self) -> None:
        self._finish()
        self.task.session.board.unsure("generators")

    def _finish(self) -> None:
        """Done: the board no longer holds it, so dropping it sends nothing."""
        self._done = True
        self._on_board.detach()

    def __repr__(self) -> str:
        state = "done" if self._done else "running" if self._started else "not started"
        return f"<RemoteGenerator {self.task.__name__} #{self.number} {state}>"


def _drop_later(task: GeneratorTask, number: int) -> None:
    """The host dropped a generator still suspended on the board: drop it with the next call."""
    task.session.release_later(calls.drop_generator(task.session.token, number))


__all__ = ["GeneratorTask", "RemoteGenerator"]
