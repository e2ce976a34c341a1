"""OpenTelemetry metrics and spans, read back from the SDK's in-memory reader and exporter, on the
unix board: a closed, a failed and a lost session, and nothing at all with metrics off."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from belay import DeviceSessionManager, SessionOptions
from belay.errors import ConnectionLostError, ResourceCleanupError, TransportError
from belay.session.state import SessionState

pytestmark = pytest.mark.anyio
ON = SessionOptions(enable_metrics=True)


class Telemetry:
    """An SDK meter and tracer whose data the test reads back."""

    def __init__(self) -> None:
        self.reader = InMemoryMetricReader()
        self.meter = MeterProvider(metric_readers=[self.reader]).get_meter("belay")
        self.exporter = InMemorySpanExporter()
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.tracer = provider.get_tracer("belay")

    def manager(self, options: SessionOptions = ON) -> DeviceSessionManager:
        return DeviceSessionManager(options, meter=self.meter, tracer=self.tracer)

    def points(self) -> dict[str, dict[tuple[tuple[str, Any], ...], Any]]:
        """metric name -> sorted attribute items -> the sum, or the count of a histogram."""
        data = self.reader.get_metrics_data()
        found: dict[str, dict[tuple[tuple[str, Any], ...], Any]] = {}
        for resource in data.resource_metrics if data else []:
            for scope in resource.scope_metrics:
                for metric in scope.metrics:
                    for point in metric.data.data_points:
                        key = tuple(sorted((point.attributes or {}).items()))
                        value = getattr(point, "count", None) if hasattr(point, "bucket_counts") else None
                        found.setdefault(metric.name, {})[key] = point.value if value is None else value
        return found

    def spans(self, name: str) -> list[ReadableSpan]:
        return [span for span in self.exporter.get_finished_spans() if span.name == name]


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    yield Telemetry()


def _all_attribute_values(spans: list[ReadableSpan]) -> list[str]:
    return [str(value) for span in spans for value in (span.attributes or {}).values()]


async def test_a_closed_session_counts_its_calls_resources_and_bytes(telemetry: Telemetry) -> None:
    async with telemetry.manager() as manager, manager.session("unix", on_output=None) as session:

        @session.task
        def add(a, b):  # type: ignore[no-untyped-def]
            return a + b

        assert await add(1, 2) == 3
        assert await add(2, 3) == 5
        await session.exec("x = 41")
        assert await session.eval("x + 1") == 42
        await session.fs.put(b"secret-ish data", "belay_telemetry.txt", temporary=True)
        session_id, token, info = session.session_id, session.token, session.device_info
    points = telemetry.points()
    assert points["belay.sessions.created"] == {(): 1}
    assert points["belay.sessions.ended"] == {(("outcome", "closed"),): 1}
    assert points["belay.sessions.active"] == {(): 0}
    assert points["belay.sessions.creation_duration"] == {(): 1}
    calls = points["belay.device.call_duration"]
    assert calls[(("kind", "task"),)] == 2
    assert calls[(("kind", "exec"),)] == 1 and calls[(("kind", "eval"),)] == 1
    assert calls[(("kind", "file"),)] >= 1
    assert points["belay.sessions.resources.registered"][(("resource_type", "method"),)] == 1
    assert points["belay.sessions.resources.registered"][(("resource_type", "file"),)] == 1
    assert points["belay.bytes"][(("direction", "out"),)] > 0
    assert points["belay.bytes"][(("direction", "in"),)] > 0
    assert "belay.sessions.cleanup_failures" not in points

    (span,) = telemetry.spans("belay.session")
    expected = {"belay.port": "unix", "belay.session_id": session_id, "belay.outcome": "closed",
                "belay.board.implementation": info.implementation, "belay.board.version": info.version_text,
                "belay.board.platform": info.platform}  # fmt: skip
    assert span.attributes == expected
    assert span.status.status_code is StatusCode.UNSET
    call_spans = telemetry.spans("belay.call")
    assert all(child.parent is not None and child.parent.span_id == span.context.span_id
               for child in call_spans)  # fmt: skip
    tasks = [child.attributes for child in call_spans if child.attributes["belay.call.kind"] == "task"]
    assert tasks == [{"belay.port": "unix", "belay.session_id": session_id,
                      "belay.call.kind": "task", "belay.task": "add"}] * 2  # fmt: skip
    values = _all_attribute_values([*call_spans, span])
    assert not any(token in value or "x = 41" in value or "secret" in value for value in values)


async def test_a_call_is_recorded_while_the_next_crosses_with_its_own_times(telemetry: Telemetry) -> None:
    """A call's duration and span are recorded while the session's next call is on its way to
    the board (or as the session ends): the span keeps the call's own start and end."""
    async with telemetry.manager() as manager, manager.session("unix", on_output=None) as session:
        before = time.time_ns()
        await session.eval("1 + 1")
        between = time.time_ns()
        assert telemetry.spans("belay.call") == []  # not yet: recorded as the next call goes
        await session.exec("import time\ntime.sleep_ms(50)")
        (first,) = telemetry.spans("belay.call")
        assert first.attributes is not None and first.attributes["belay.call.kind"] == "eval"
        assert first.start_time is not None and first.end_time is not None
        assert before <= first.start_time <= first.end_time <= between
        assert telemetry.points()["belay.device.call_duration"] == {(("kind", "eval"),): 1}
    (_, slept) = telemetry.spans("belay.call")  # the last call: recorded as the session ended
    (session_span,) = telemetry.spans("belay.session")
    assert slept.start_time is not None and slept.end_time is not None
    # sleep_ms counts the board's whole milliseconds, so it may end up to 1 ms short of 50
    assert slept.end_time - slept.start_time >= 49_000_000
    assert session_span.start_time is not None and session_span.end_time is not None
    assert session_span.start_time <= slept.start_time and slept.end_time <= session_span.end_time
    assert telemetry.points()["belay.device.call_duration"][(("kind", "exec"),)] == 1


async def test_a_session_whose_cleanup_fails_ends_failed(telemetry: Telemetry) -> None:
    async with telemetry.manager() as manager:
        session = await manager.create_session("unix", on_output=None)

        @session.teardown
        def broken():  # type: ignore[no-untyped-def]
            raise ValueError("teardown fails")

        with pytest.raises(ResourceCleanupError):
            await manager.end_session(session.session_id)
    points = telemetry.points()
    assert points["belay.sessions.ended"] == {(("outcome", "failed"),): 1}
    assert points["belay.sessions.cleanup_failures"] == {(): 1}
    assert points["belay.sessions.active"] == {(): 0}
    (span,) = telemetry.spans("belay.session")
    assert span.status.status_code is StatusCode.ERROR and span.attributes["belay.outcome"] == "failed"


async def test_a_session_whose_board_is_killed_ends_lost(telemetry: Telemetry) -> None:
    async with telemetry.manager() as manager:
        session = await manager.create_session("unix", on_output=None)
        board = manager.board("unix")
        assert board is not None
        os.kill(board.device.transport.pid, signal.SIGKILL)  # type: ignore[attr-defined]
        with anyio.fail_after(10), pytest.raises(ConnectionLostError):
            await session.eval("1")
        assert session.state is SessionState.LOST
        await manager.end_session(session.session_id)
    points = telemetry.points()
    assert points["belay.sessions.ended"] == {(("outcome", "lost"),): 1}
    assert points["belay.sessions.active"] == {(): 0}
    (failed,) = [s for s in telemetry.spans("belay.call") if s.status.status_code is StatusCode.ERROR]
    assert failed.attributes["error.type"] == "ConnectionLostError"
    assert failed.attributes["belay.call.kind"] == "eval"


async def test_a_session_that_cannot_open_records_an_error_span_and_no_session(
    telemetry: Telemetry,
) -> None:
    async with telemetry.manager() as manager:
        with pytest.raises(TransportError):
            await manager.create_session("/dev/belay-no-such-port")
    assert "belay.sessions.created" not in telemetry.points()
    (span,) = telemetry.spans("belay.session")
    assert span.status.status_code is StatusCode.ERROR
    assert span.attributes["belay.port"] == "/dev/belay-no-such-port"


async def test_metrics_off_records_nothing(telemetry: Telemetry) -> None:
    async with telemetry.manager(SessionOptions()) as manager, manager.session("unix", on_output=None) as s:
        assert await s.eval("1 + 1") == 2
        assert s.telemetry is None
    assert telemetry.points() == {}
    assert telemetry.exporter.get_finished_spans() == ()


async def test_one_session_may_turn_metrics_on(telemetry: Telemetry) -> None:
    async with telemetry.manager(SessionOptions()) as manager:
        async with manager.session("unix", on_output=None, enable_metrics=True) as session:
            assert await session.eval("2") == 2
        async with manager.session("unix", on_output=None):
            pass
    assert telemetry.points()["belay.sessions.created"] == {(): 1}


async def test_a_session_the_board_reaped_counts_as_reaped(telemetry: Telemetry) -> None:
    # a frozen manager clock: the manager never renews the lease, so the board reaps the session
    manager = DeviceSessionManager(ON, meter=telemetry.meter, tracer=telemetry.tracer, clock=lambda: 0.0)
    async with manager:
        silent = await manager.create_session("unix", on_output=None, lease=0.3)
        await anyio.sleep(0.8)
        async with manager.session("unix", on_output=None):
            pass
        assert silent.state is SessionState.LOST  # the board holds nothing of it any more
        await manager.end_session(silent.session_id)  # nothing to clean up: no error
    points = telemetry.points()
    assert points["belay.sessions.ended"] == {(("outcome", "reaped"),): 1, (("outcome", "closed"),): 1}
    assert points["belay.sessions.created"] == {(): 2} and points["belay.sessions.active"] == {(): 0}
