"""What telemetry costs a cached task call, ``await add(1, 2)``, as ratios measured in one run.

    python benchmarks/bench_telemetry.py [--rounds 7 --calls 300] [--port unix]

One session on one board, one deployed task, its cached calls made in three ways, interleaved
round by round (order rotating):

- ``off``:  ``enable_metrics=False`` (the default): no instrument is touched;
- ``api``:  ``enable_metrics=True`` with no OpenTelemetry SDK configured (the API's no-op
  meter and tracer: what a program that never set up OpenTelemetry pays);
- ``sdk``:  ``enable_metrics=True`` recording into the SDK: an in-memory metric reader and a
  batch span processor with an in-memory exporter (a call span per call).
"""

from __future__ import annotations

import argparse
import statistics

import anyio
from bench_call_latency import Batch, Contender
from bench_sessions import task_batch
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from belay import DeviceSession, DeviceSessionManager, SessionOptions
from belay.telemetry import SessionTelemetry, Telemetry


def sdk_telemetry() -> Telemetry:
    tracing = TracerProvider()
    tracing.add_span_processor(BatchSpanProcessor(InMemorySpanExporter()))
    meter = MeterProvider(metric_readers=[InMemoryMetricReader()]).get_meter("belay")
    return Telemetry(meter, tracing.get_tracer("belay"))


def toggled(session: DeviceSession, telemetry: SessionTelemetry | None) -> Batch:
    """Cached calls of a task made while ``telemetry`` is the session's, made with it on."""
    session.telemetry = telemetry
    batch = task_batch(session)

    async def run(count: int) -> list[int]:
        session.telemetry = telemetry
        return await batch(count)

    return run


async def bench(port: str, rounds: int, calls: int) -> None:
    async with DeviceSessionManager(SessionOptions()) as manager:
        session = await manager.create_session(port, on_output=None, enable_metrics=True)
        api = Telemetry().session(port)  # the global API's meter and tracer: no SDK
        sdk = sdk_telemetry().session(port)
        for telemetry in (api, sdk):
            telemetry.began(session.session_id)
        # one session, one board, one deployed task: only the telemetry differs between them
        contenders = [
            Contender("off", toggled(session, None)),
            Contender("api", toggled(session, api)),
            Contender("sdk", toggled(session, sdk)),
        ]
        per_round = await paired_rounds(contenders, rounds, calls)
        session.telemetry = None
        await manager.end_session(session.session_id)
    print(f"\n{port}: cached task call, {rounds} rounds x {calls} calls each, interleaved")
    for contender in contenders:
        print(
            f"  {contender.name:<4} median {contender.median_us():7.1f} us  p90 {contender.p90_us():7.1f} us"
        )
    off = contenders[0].median_us()
    for contender in contenders[1:]:
        ratios = sorted(r[contender.name] / r["off"] for r in per_round)
        print(
            f"  {contender.name}/off: median of the rounds' ratios {statistics.median(ratios):5.3f}x "
            f"(rounds {ratios[0]:.3f}-{ratios[-1]:.3f}); pooled medians {contender.median_us() / off:5.3f}x"
        )


async def paired_rounds(contenders: list[Contender], rounds: int, calls: int) -> list[dict[str, float]]:
    """Each round runs every contender's batch (order rotating); its median per contender."""
    for contender in contenders:  # warm-up
        await contender.batch(max(10, calls // 10))
    medians = []
    for round_ in range(rounds):
        shift = round_ % len(contenders)
        found = {}
        for contender in contenders[shift:] + contenders[:shift]:
            samples = await contender.batch(calls)
            contender.samples += samples
            found[contender.name] = statistics.median(samples)
        medians.append(found)
    return medians


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--port", default="unix")
    args = parser.parse_args()
    anyio.run(bench, args.port, args.rounds, args.calls)


if __name__ == "__main__":
    main()
