"""Proxies through ``belay.connect`` (issue 26, item 7): attributes, items, calls, ``len``,
``in``, iteration and assignment are plain calls that return values, on both boards. Values
that are immutable come back as values; board objects as blocking proxies."""

from __future__ import annotations

import gc
import warnings
from collections.abc import Iterator

import pytest
from virtual_boards import served_virtual_board

import belay
from belay import DeviceExecError, SessionError
from belay.blocking import BlockingProxy

SENSOR = """
class Sensor:
    def __init__(self, scale):
        self.scale = scale
        self.name = 'probe'
        self.log = []
    def read(self, raw, offset=0):
        self.log.append(raw)
        return raw * self.scale + offset
    def pair(self):
        return (self.scale, self.name)
"""


KINDS = ["unix", pytest.param("microbit", marks=pytest.mark.microbit)]


@pytest.fixture(params=KINDS)
def session(request: pytest.FixtureRequest) -> Iterator[belay.BlockingSession]:
    with served_virtual_board(request.param) as path, belay.connect(path, on_output=None) as opened:
        opened.exec(SENSOR)
        yield opened


def held(session: belay.BlockingSession) -> int:
    """How many proxies the board holds for the session (the agent's records)."""
    return int(session.eval(f"len(__import__('belay_agent').x({session.session.token!r}).get('p', {{}}))"))


def test_attributes_and_method_calls_are_plain_calls_returning_values(session: belay.BlockingSession) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an un-awaited coroutine would warn
        sensor = session.proxy("Sensor(3)")
        assert isinstance(sensor, BlockingProxy)
        assert sensor.scale == 3 and sensor.name == "probe"  # immutable values, not proxies
        assert sensor.read(2) == 6
        assert sensor.read(5, offset=1) == 16
        assert sensor.pair() == (3, "probe")
        assert sensor.log[1] == 5
        sensor.scale = 10  # setattr on the board
        assert sensor.read(1) == 10
        sensor.set("scale", 2)
        assert session.eval("1") == 1 and sensor.scale == 2
    assert held(session) == 1


def test_items_len_contains_iteration_and_assignment(session: belay.BlockingSession) -> None:
    box = session.proxy("{'a': (1, 2, 3), 'n': 7, 's': Sensor(2)}")
    assert isinstance(box, BlockingProxy)
    assert box["n"] == 7 and box["a"] == (1, 2, 3) and box["a"][2] == 3
    assert len(box) == 3
    assert "a" in box and "zzz" not in box
    assert sorted(box) == ["a", "n", "s"]
    inner = box["s"]
    assert isinstance(inner, BlockingProxy) and inner.read(4) == 8
    box["b"] = "bee"
    assert box["b"] == "bee"
    with pytest.raises(DeviceExecError) as caught:
        box["missing"]
    assert caught.value.remote_type == "KeyError"
    assert session.eval("2 + 2") == 4  # the session goes on


def test_a_task_returning_proxies_gives_blocking_proxies(session: belay.BlockingSession) -> None:
    source = "def make(scale):\n    import belay_agent\n    return [belay_agent.proxy(Sensor(scale)), scale]"
    make = session.task(source=source)
    made, scale = make(7)
    assert isinstance(made, BlockingProxy) and scale == 7
    assert made.read(1) == 7


def test_released_dropped_and_stale_proxies(session: belay.BlockingSession) -> None:
    first = session.proxy("Sensor(1)")
    kept = session.proxy("Sensor(2)")
    first.release()
    assert held(session) == 1
    del kept
    gc.collect()
    assert held(session) == 0  # the drop went ahead of this call
    stale = session.proxy("Sensor(4)")
    session.close()
    with pytest.raises(SessionError, match=r"after session \w+ ended"):
        stale.read(1)
