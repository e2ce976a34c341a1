"""Random bytes from the board side, through the whole host stack (link, protocol, device).

A scripted board on the in-memory transport splices hypothesis-drawn bytes into its answers,
cuts answers short and stalls calls. Every call must end within its deadline with a value or
a :class:`BelayError`, the host's buffers must stay bounded, and once the board behaves again
the very next call must get its own, right answer.
"""

from __future__ import annotations

import anyio
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from belay import link
from belay.device import Device
from belay.errors import BelayError, ConnectionLostError
from belay.protocol.raw_repl import MAX_ERROR_BYTES
from belay.transports import MemoryTransport

from .fake_board import BANNER, FakeBoard, Fault

CALL_TIMEOUT = 0.05
GUARD = 5.0
"""No single call may take longer than this, whatever the board sends (it is not a speed test)."""

TOKENS = [b"OK", b"OK1\r\n\x04\x04>", b"\x04", b"\x04>", b"\x04\x04>", b">", b"\r\n", b"R\x01"]
TOKENS += [BANNER, BANNER[:9], b"\x03", b"\xff"]
chunk = st.one_of(st.sampled_from(TOKENS), st.binary(min_size=1, max_size=40))
noise = st.lists(chunk, min_size=1, max_size=6)
faults = st.one_of(
    st.just(Fault()),
    st.builds(Fault, kind=st.just("noise"), noise=noise.map(b"".join), at=st.integers(0, 64)),
    st.builds(Fault, kind=st.just("cut"), at=st.integers(0, 64)),
    st.just(Fault(kind="stall")),
)


@pytest.fixture
def quick_recovery(monkeypatch: pytest.MonkeyPatch) -> None:
    """The link's waits scaled down: the memory board answers at once, so this only saves time."""
    monkeypatch.setattr(link, "SYNC_RETRY", 0.05)
    monkeypatch.setattr(link, "INTERRUPT_GRACE", 0.05)


async def _play(script: list[Fault], calls: int) -> tuple[Device, FakeBoard]:
    transport, end = MemoryTransport.pair()
    board = FakeBoard(end, script)
    device = Device.over(transport, sync_timeout=1.0, recover_timeout=1.0, max_output=4096)
    async with anyio.create_task_group() as group:
        group.start_soon(board.run)
        for n in range(calls):
            await _one_call(device, n)
        board.script = []  # from here on the board behaves
        with anyio.fail_after(GUARD * 2):
            assert await device.eval("424242", timeout=GUARD) == 424242
            assert await device.eval("-7", timeout=GUARD) == -7
        _check_bounded(device)
        group.cancel_scope.cancel()
    return device, board


async def _one_call(device: Device, n: int) -> None:
    with anyio.fail_after(GUARD):
        try:
            await device.eval(str(n), timeout=CALL_TIMEOUT)
        except ConnectionLostError:  # the memory board never goes away
            raise
        except BelayError:
            pass
    _check_bounded(device)


def _check_bounded(device: Device) -> None:
    protocol = device._link.protocol
    assert len(protocol._inbox) <= 64
    assert len(protocol._error) <= MAX_ERROR_BYTES
    assert len(protocol.discarded) <= 256


@pytest.mark.usefixtures("quick_recovery")
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(script=st.lists(faults, min_size=1, max_size=8), calls=st.integers(1, 6))
def test_random_board_bytes_never_hang_and_the_board_is_usable_after(script: list[Fault], calls: int) -> None:
    anyio.run(_play, script, calls)


def test_a_clean_board_answers_every_call_right() -> None:
    async def clean() -> None:
        _, board = await _play([], 20)
        assert board.calls == 22

    anyio.run(clean)


def test_a_whole_false_answer_spliced_before_the_real_one_does_not_shift_later_answers() -> None:
    """The board's real answer arrives after a forged one: it must not answer the next call."""
    forged = Fault(kind="noise", noise=b"OK9\r\n\x04\x04>", at=0)
    anyio.run(_play, [Fault(), forged], 1)
