"""belay's metrics and spans in OpenTelemetry (needs `pip install opentelemetry-sdk`).

python examples/opentelemetry_metrics.py
"""

from __future__ import annotations

import anyio
from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, PeriodicExportingMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

from belay import DeviceSessionManager, SessionOptions

tracing = TracerProvider()
tracing.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
trace.set_tracer_provider(tracing)
metrics.set_meter_provider(MeterProvider([PeriodicExportingMetricReader(ConsoleMetricExporter())]))


async def main() -> None:
    manager = DeviceSessionManager(SessionOptions(enable_metrics=True))
    async with manager, manager.session("unix") as session:

        @session.task
        def add(a, b):  # type: ignore[no-untyped-def]
            return a + b

        print("add(1, 2) =", await add(1, 2))


if __name__ == "__main__":
    anyio.run(main)
    metrics.get_meter_provider().shutdown()  # type: ignore[attr-defined]  # flushes the metrics
