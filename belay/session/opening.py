"""How a session opens and ends on the board: the agent's ``begin`` and ``end`` steps, what
they answer, and the board's word for why a session is gone."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

import anyio

from belay.agent import calls
from belay.agent.answers import MARK, read_value, value_of
from belay.device import Device
from belay.errors import BelayError, DeviceExecError, ProtocolError, SessionLimitError
from belay.link import CallResult
from belay.session.board import Board
from belay.session.budget import session_reserve

logger = logging.getLogger(__name__)


async def begin_on_board(
    board: Board, token: str, session_id: str, lease_ms: int, renew: Iterable[str]
) -> tuple[Any, int]:
    """Open the session's namespace in one hold of the board (another session's begin cannot
    come between the steps); returns what the agent reaped and the session's handle. Raises
    :class:`SessionLimitError` when the board has no heap for it."""
    device = board.device
    reserve, each = session_reserve(device.capabilities)
    steps = calls.begin_steps(token, session_id, lease_ms, renew, reserve, each, _most(device))
    try:
        done = await device.call_each(steps)
    except DeviceExecError as error:
        if error.remote_type != "MemoryError":
            raise
        raise no_room(error, board, reserve, each) from None
    return begin_answer(done), calls.handle_of(token)


def _most(device: Device) -> int | None:
    """The most bytes one call of the steps may take: a paced line's write (else no limit)."""
    pacing = device.transport.pacing
    return None if pacing is None else pacing.chunk_size


def no_room(error: DeviceExecError, board: Board, reserve: int, each: int) -> SessionLimitError:
    """The board refused a session for want of heap (``belay:full:<free>:<open>``)."""
    fields = error.remote_message.split(":")
    if len(fields) == 4 and fields[:2] == ["belay", "full"] and all(f.isdigit() for f in fields[2:]):
        free, open_there = int(fields[2]), int(fields[3])
        why = f"{free} B of heap free, less than the {reserve + each * open_there} B it needs"
    else:
        open_there = len(board.sessions) - 1
        why = "no memory left to open one"
    return SessionLimitError(
        f"the board on {board.port} has room for no more sessions: {why} "
        f"with the {open_there} session(s) open there",
        limit=open_there,
    )


def begin_answer(results: list[CallResult]) -> Any:
    """The last answer of ``begin``'s steps: what was reaped."""
    output = b"".join(result.output for result in results)
    if any(result.output_truncated for result in results) or output.count(MARK) < 1:
        raise ProtocolError(f"the agent answered {output[-200:]!r} to begin a session")
    return value_of(output[output.rfind(MARK) :])


async def end_on_board(board: Board, token: str, handle: int | None) -> Any:
    """End the session on the board by its handle (in short calls where the line is slow);
    returns the agent's report of what it could not remove."""
    if handle is None:
        return await board.value(calls.end(token, 1000))
    device = board.device
    steps = calls.end_steps(handle, 1000 if device.capabilities.threads else 0, _most(device))
    done = (await device.call_each(steps))[-1]
    return await read_value(done.output, truncated=done.output_truncated)


async def end_if_begun(board: Board, token: str, timeout: float) -> None:
    """After a begin that was cancelled or failed once sent: end the session on the board if
    the board opened it (best effort, shielded, within ``timeout``), so nothing of it waits
    there for its lease to run out. A board that never opened it answers it does not know it."""
    if board.device.is_lost:
        return
    with anyio.move_on_after(timeout, shield=True):
        try:
            await end_on_board(board, token, None)
        except BelayError as error:  # "belay:unknown": it never began; or the board is gone
            logger.debug("no half-begun session to end on %s: %s", board.port, error)


async def why_gone(device: Device, token: str, handle: int | None, error: DeviceExecError) -> DeviceExecError:
    """``error``; where the board knows no session by this handle, the board's word for why
    it is gone (the token says why it went)."""
    if handle is None or error.remote_message != "belay:unknown":
        return error
    try:
        await device.exec(calls.renew(token))
    except DeviceExecError as by_token:
        return by_token
    return error
