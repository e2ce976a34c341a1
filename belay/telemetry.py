"""belay's OpenTelemetry instruments, on the API package only: with no SDK configured they
record nothing and cost next to nothing.

Metrics: ``belay.sessions.created``, ``belay.sessions.ended`` (``outcome``: closed, failed,
lost, reaped), ``belay.sessions.active``, ``belay.sessions.creation_duration`` (ms),
``belay.device.call_duration`` (ms, ``kind``: exec, eval, task, file),
``belay.sessions.resources.registered`` (``resource_type``), ``belay.sessions.cleanup_failures``
and ``belay.bytes`` (``direction``: out, in). Spans: ``belay.session`` around a session's life,
``belay.call`` around each of its board calls, with the port, the session id and the task name
as attributes. Neither ever carries a session's token nor the code it runs.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping

from opentelemetry import metrics, trace
from opentelemetry.metrics import CallbackOptions, Meter, Observation
from opentelemetry.trace import Span, Status, StatusCode, Tracer

SCOPE = "belay"
PORT, SESSION_ID, TASK, KIND = "belay.port", "belay.session_id", "belay.task", "belay.call.kind"
OUTCOMES = ("closed", "failed", "lost", "reaped")


def default_meter() -> Meter:
    """The global meter provider's meter for belay (a no-op until an SDK is configured)."""
    return metrics.get_meter(SCOPE)


def default_tracer() -> Tracer:
    """The global tracer provider's tracer for belay (a no-op until an SDK is configured)."""
    return trace.get_tracer(SCOPE)


class Telemetry:
    """belay's instruments, made once on ``meter`` and ``tracer`` (defaults: the global ones)."""

    def __init__(self, meter: Meter | None = None, tracer: Tracer | None = None) -> None:
        meter = meter if meter is not None else default_meter()
        self.tracer = tracer if tracer is not None else default_tracer()
        counter, histogram = meter.create_counter, meter.create_histogram
        self.created = counter("belay.sessions.created", "{session}", "sessions begun")
        self.ended = counter("belay.sessions.ended", "{session}", "sessions ended, by outcome")
        self.active = meter.create_up_down_counter("belay.sessions.active", "{session}", "open sessions")
        self.creation = histogram("belay.sessions.creation_duration", "ms", "time to open a session")
        self.calls = histogram("belay.device.call_duration", "ms", "board calls, by kind")
        self.resources = counter("belay.sessions.resources.registered", "{resource}", "resources held")
        self.cleanup_failures = counter("belay.sessions.cleanup_failures", "{failure}", "cleanup failures")
        self.sent = self.received = 0  # belay.bytes is observed: the hot path only adds to these
        meter.create_observable_counter(
            "belay.bytes", [self._observe_bytes], "By", "bytes of code sent and of output received"
        )

    def _observe_bytes(self, options: CallbackOptions) -> Iterable[Observation]:
        return [Observation(self.sent, {"direction": "out"}), Observation(self.received, {"direction": "in"})]

    def session(self, port: str) -> SessionTelemetry:
        """Start timing (and a span for) a session being opened on ``port``."""
        return SessionTelemetry(self, port)

    def reaped(self, count: int) -> None:
        """``count`` sessions (of any host) were ended by the board for want of their host."""
        if count:
            self.ended.add(count, {"outcome": "reaped"})


_EndedCall = tuple[tuple[float, int], float, int, str, "str | None", "str | None"]
"""A call ended and not yet recorded: (started, ended on perf_counter, ended in ns since the
epoch, kind, task name, the type of the error it failed with)."""


class SessionTelemetry:
    """One session's span and the instruments it records to; see :class:`Telemetry`."""

    def __init__(self, telemetry: Telemetry, port: str) -> None:
        self._t = telemetry
        self._started = time.perf_counter()
        self.span: Span = telemetry.tracer.start_span("belay.session", attributes={PORT: port})
        self._context = trace.set_span_in_context(self.span)
        self._recording = self.span.is_recording()  # no SDK, or sampled out: no call spans
        self._attributes: dict[str, str] = {PORT: port}
        self._kinds = {kind: {"kind": kind} for kind in ("exec", "eval", "task", "file")}
        self.pending: list[_EndedCall] = []  # calls ended and not yet recorded (see record)

    def began(self, session_id: str, board: Mapping[str, str] | None = None) -> None:
        """The session is open on the board (whose identity, ``implementation``, ``version``
        and ``platform``, ``board`` gives)."""
        self._attributes[SESSION_ID] = session_id
        self.span.set_attribute(SESSION_ID, session_id)
        for key in ("implementation", "version", "platform"):
            if board and key in board:
                self.span.set_attribute(f"belay.board.{key}", board[key])
        self._t.created.add(1)
        self._t.active.add(1)
        self._t.creation.record((time.perf_counter() - self._started) * 1000.0)

    def failed_to_begin(self, error: BaseException) -> None:
        """The session never opened: its span ends with ``error``'s type (never its text)."""
        _fail(self.span, type(error).__name__)
        self.span.end()

    def ended(self, outcome: str, cleanup_failures: int = 0) -> None:
        """The session ended with ``outcome`` (one of :data:`OUTCOMES`)."""
        self.record()
        self._t.ended.add(1, {"outcome": outcome})
        self._t.active.add(-1)
        if cleanup_failures:
            self._t.cleanup_failures.add(cleanup_failures)
        self.span.set_attribute("belay.outcome", outcome)
        if outcome != "closed":
            self.span.set_status(Status(StatusCode.ERROR, outcome))
        self.span.end()

    def resource_registered(self, resource_type: str) -> None:
        self._t.resources.add(1, {"resource_type": resource_type})

    def call_started(self, kind: str, name: str | None) -> tuple[float, int]:
        """A board call of ``kind`` begins: when (for the histogram, and, while the session's
        span records, for the call span). Pass it to :meth:`call_ended`. Plain calls, not a
        wrapping coroutine: the hot path pays no frame for them."""
        return time.perf_counter(), time.time_ns() if self._recording else 0

    def call_ended(
        self, started: tuple[float, int], kind: str, name: str | None, sent: int, received: int,
        error: BaseException | None = None,
    ) -> None:  # fmt: skip
        """The call :meth:`call_started` began has ended (``error``: how it failed). What it
        records waits in :attr:`pending` for :meth:`record`: the session records it while its
        next call crosses to the board, or as it ends."""
        self.pending.append(
            (
                started,
                time.perf_counter(),
                time.time_ns() if self._recording else 0,
                kind,
                name,
                None if error is None else type(error).__name__,
            )
        )
        self._t.sent += sent
        self._t.received += received

    def record(self) -> None:
        """Record the ended calls: their durations into ``belay.device.call_duration`` and,
        while the session's span records, a ``belay.call`` span each, with its own times."""
        pending, self.pending = self.pending, []
        for (began, began_ns), ended, ended_ns, kind, name, error in pending:
            self._t.calls.record((ended - began) * 1000.0, self._kinds.get(kind) or {"kind": kind})
            if self._recording:
                span = self._call_span(kind, name, began_ns)
                if error is not None:
                    _fail(span, error)
                span.end(ended_ns)

    def _call_span(self, kind: str, name: str | None, start_time: int) -> Span:
        attributes = {**self._attributes, KIND: kind}
        if name is not None:
            attributes[TASK] = name
        return self._t.tracer.start_span(
            "belay.call", self._context, attributes=attributes, start_time=start_time
        )


def _fail(span: Span, error_type: str) -> None:
    span.set_attribute("error.type", error_type)
    span.set_status(Status(StatusCode.ERROR, error_type))


__all__ = ["OUTCOMES", "SessionTelemetry", "Telemetry", "default_meter", "default_tracer"]
