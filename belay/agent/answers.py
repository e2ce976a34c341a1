"""Reading what the agent answers: a value after a marker byte, and output around it.

The agent prints a call's value as ``\\x1e`` followed by its ``repr`` (``_ba.v``), after
anything the call's code printed itself: the last mark is the answer, whatever the code
printed. :class:`AnswerStream` passes that printed output on as it arrives and keeps the value
back; :func:`value_of` reads the value, a Python literal, with :func:`belay.literals.loads`
(never evaluated).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from belay import literals
from belay.deadline import Deadline
from belay.errors import DeviceValueError
from belay.link import OutputCallback

if TYPE_CHECKING:
    from belay.device import Device

MARK = b"\x1e"
"""Starts the agent's answer (ASCII record separator). Code may print it too: the agent prints
its answer after everything the call's code printed (every call answers, ``exec`` included), so
the answer is the last mark, and an earlier one is printed text, passed on as such."""


class AnswerStream:
    """An output callback that forwards what code printed and holds back the agent's answer.

    Bytes before a :data:`MARK` go to ``forward`` at once; from a mark on they are held. A
    later mark means the held bytes were printed output after all: they are forwarded, and
    the new mark is held. The answer is the last mark's. Held bytes past
    :data:`~belay.literals.MAX_TEXT` (longer than any value read) are forwarded too, so a
    board that streams after a mark never makes the host hold more.
    """

    def __init__(self, forward: OutputCallback | None) -> None:
        self.forward = forward
        self._held = bytearray()

    def __call__(self, data: bytes) -> None:
        if not self._held:
            cut = data.find(MARK)
            if cut < 0:
                self._emit(data)
                return
            self._emit(data[:cut])
            data = data[cut:]
        self._held += data
        last = self._held.rfind(MARK)
        if last > 0:
            self._emit(bytes(self._held[:last]))
            del self._held[:last]
        if len(self._held) > literals.MAX_TEXT:  # too long to be a value: it was printed output
            self._emit(bytes(self._held))
            self._held.clear()

    def _emit(self, data: bytes) -> None:
        if data and self.forward is not None:
            self.forward(data)


def split_answer(output: bytes) -> tuple[bytes, bytes | None]:
    """``(printed, answer)``: the output before the last mark, and the answer's text after it
    (``None`` when there is no mark)."""
    cut = output.rfind(MARK)
    if cut < 0:
        return output, None
    return output[:cut], output[cut + 1 :]


def value_of(output: bytes, *, truncated: bool = False, port: str | None = None) -> Any:
    """The value the agent answered in ``output``, read as a Python literal (never evaluated).

    Raises :class:`DeviceValueError` when there is none (naming ``port``), or it is not a
    literal or too large. A string's bytes that are not UTF-8 come back as lone surrogates
    (``surrogateescape``).
    """
    return literals.loads(_answer_text(output, truncated, port))


async def read_value(
    output: bytes, *, truncated: bool = False, timeout: float | None = None, port: str | None = None
) -> Any:
    """:func:`value_of` within ``timeout`` seconds, a long answer read off the event loop; also
    raises :class:`~belay.errors.DeviceTimeoutError` when reading it takes longer."""
    return await literals.aloads(_answer_text(output, truncated, port), timeout=timeout)


CUT_SHORT = (
    "the board{where} ended the call's output before belay's answer: the code printed a \\x04 "
    "(Ctrl-D), which ends the raw REPL's output for every raw-REPL tool; what it printed after "
    "that byte was lost (print repr() of such text, or write it to a file)"
)
"""Why a call that always answers answered nothing: the agent prints its answer last, so only
a ``\x04`` in what the code printed (the raw REPL's end of output) cuts it off."""


def no_answer(port: str | None = None) -> DeviceValueError:
    """The loud error for output cut short by a printed ``\x04`` (see :data:`CUT_SHORT`)."""
    return DeviceValueError(CUT_SHORT.format(where=f" on {port}" if port else ""))


def _answer_text(output: bytes, truncated: bool, port: str | None = None) -> str:
    if truncated:
        raise DeviceValueError("the value printed by the board exceeded the output limit")
    _, answer = split_answer(output)
    if answer is None:
        raise no_answer(port)
    return answer.decode("utf-8", "surrogateescape").strip()


def as_int(value: Any, what: str) -> int:
    """``value``, an int the board answered for ``what``; raises :class:`DeviceValueError` for
    anything else (``inf``, ``None``, a bool, text), where ``int()`` would raise outside belay's
    errors."""
    if type(value) is not int:
        raise DeviceValueError(f"the board answered {value!r:.100} for {what}, not an int")
    return value


async def ask(device: Device, code: str, *, timeout: float | None = None) -> Any:
    """Run agent ``code`` on ``device``, outside any session, and return the value it answers.

    Raises :class:`~belay.errors.DeviceExecError` when it raised on the board,
    :class:`DeviceValueError` when it answered no value (or one that is not a literal or too
    large), :class:`~belay.errors.DeviceTimeoutError` when the call and reading its answer
    take longer than ``timeout`` (default: the device's ``call_timeout``).
    """
    deadline = Deadline.after(device.call_timeout if timeout is None else timeout)
    result = await device.call(code, timeout=timeout)
    return await read_value(result.output, truncated=result.output_truncated, timeout=deadline.remaining())


__all__ = ["MARK", "AnswerStream", "as_int", "ask", "no_answer", "read_value", "split_answer", "value_of"]
