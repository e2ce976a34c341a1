"""The container: configured from a dict, a file and BELAY_*, its parts swapped by overriding
providers (a fake clock, a recording transport factory, an SDK meter), on the unix board."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from dependency_injector import providers
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader

from belay.container import Container, from_config
from belay.options import SessionOptions
from belay.session.state import SessionState
from belay.transports import Transport, open_transport


def test_options_come_from_the_dict_the_file_and_the_environment(tmp_path: Path) -> None:
    (tmp_path / "belay.toml").write_text("call_timeout = 2.0\nlease = 12.0\n[ports]\nbench = 'unix'\n")
    container = from_config({"cleanup_timeout": 9.0, "lease": 1.0}, start=tmp_path,
                            environ={"BELAY_CALL_TIMEOUT": "3.5"})  # fmt: skip
    options = container.options()
    assert (options.call_timeout, options.lease, options.cleanup_timeout) == (3.5, 12.0, 9.0)
    assert container.port_aliases() == {"bench": "unix"}
    assert container.session_manager() is container.session_manager()  # one manager per container


def test_a_bare_container_still_has_defaults() -> None:
    container = Container()
    assert container.port_aliases() == {}
    assert container.options().lease == 30.0


@pytest.mark.anyio
async def test_overrides_swap_the_clock_and_the_transport(tmp_path: Path) -> None:
    asked: list[str] = []

    async def recording(port: str) -> Transport:
        asked.append(port)
        return await open_transport(port)

    now = [1000.0]
    container = from_config({"lease": 0.3, "ports": {"bench": "unix"}}, start=tmp_path, environ={})
    container.transport_factory.override(providers.Object(recording))
    container.clock.override(providers.Object(lambda: now[0]))
    async with container.session_manager() as manager:
        async with container.session("bench", on_output=None) as session:
            assert asked == ["unix"]  # the alias resolved before the transport was asked
            assert session.last_used == 1000.0 and await session.eval("1 + 1") == 2
        idle = await manager.create_session("unix", on_output=None)
        now[0] += 2 * idle.options.session_timeout  # an hour later, by the fake clock
        with anyio.fail_after(5):
            while idle.state in (SessionState.ACTIVE, SessionState.CLOSING):  # noqa: ASYNC110 - the upkeep has no event to wait on
                await anyio.sleep(0.02)
        assert idle.state is SessionState.CLOSED and manager.list_sessions() == []  # ended as idle
        assert asked == ["unix"]  # one board, opened once
    assert (await manager.stats()).total == 2


@pytest.mark.anyio
async def test_overriding_the_meter_turns_an_sdk_on_for_the_managers_sessions(tmp_path: Path) -> None:
    reader = InMemoryMetricReader()
    container = from_config({"enable_metrics": True}, start=tmp_path, environ={})
    container.meter.override(providers.Object(MeterProvider(metric_readers=[reader]).get_meter("t")))
    async with container.session_manager() as manager, manager.session("unix", on_output=None) as s:
        assert await s.eval("2") == 2
    data = reader.get_metrics_data()
    assert data is not None
    names = {m.name for r in data.resource_metrics for sc in r.scope_metrics for m in sc.metrics}
    assert {"belay.sessions.created", "belay.device.call_duration"} <= names


def test_the_pytest_plugin_takes_the_projects_port_alias(pytester: pytest.Pytester) -> None:
    pytester.makefile(".toml", belay="[ports]\nbench = 'unix'\n")
    pytester.makepyfile(
        """
        def test_port(belay_port, belay_container):
            assert belay_port == "unix"
            assert belay_container.port_aliases() == {"bench": "unix"}
        """
    )
    result = pytester.runpytest("--belay-port", "bench", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_an_injected_environment_wins_over_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BELAY_CALL_TIMEOUT", "7")
    monkeypatch.setenv("BELAY_LEASE", "12")
    assert from_config(environ={}, use_file=False).options().call_timeout is None
    assert from_config(environ={}, use_file=False).options().lease == SessionOptions().lease
    injected = from_config(environ={"BELAY_CALL_TIMEOUT": "3"}, use_file=False).options()
    assert (injected.call_timeout, injected.lease) == (3.0, SessionOptions().lease)
    assert from_config(use_file=False).options().call_timeout == 7.0  # no environment given: the process's
