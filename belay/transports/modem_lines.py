"""DTR and RTS as a serial port opens and closes, without resetting the board behind it.

Opening a port resets no board: DTR and RTS are held asserted, as a port opens anyway, unless
:class:`~belay.transports.base.ModemLines` asks otherwise; lines change in an order that never
passes through DTR low with RTS high (the reset of the ESP auto-reset circuit) on the way,
and on closing RTS is released before DTR, as mpremote does (micropython#9659).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os

import serial

from belay.errors import ConnectionLostError
from belay.transports.base import DEFAULT_LINES, ModemLines

logger = logging.getLogger(__name__)

CLEAR_LINES_BEFORE_OPEN = os.name == "nt"
"""Open with DTR and RTS low, then raise them, DTR first: mpremote's workaround for Windows'
CP210x driver, which otherwise raises them at different times when a port is first opened."""
NO_LINES = (errno.ENOTTY, errno.EINVAL)
"""What setting a modem line raises on a port that has none (a pty)."""


def open_device_path(
    port: str, baudrate: int, lines: ModemLines, serial_class: type[serial.Serial]
) -> serial.Serial:
    """A device path opened exclusively with its modem lines at ``lines`` (pyserial raises
    DTR, then RTS, as it opens: a board sees both asserted, as the port's driver sets them)."""
    handle = serial_class(None, baudrate=baudrate, timeout=0, exclusive=True)
    handle.port = port
    if CLEAR_LINES_BEFORE_OPEN:
        handle.dtr = handle.rts = False
    handle.open()
    if lines != DEFAULT_LINES or CLEAR_LINES_BEFORE_OPEN:
        try:
            hold_lines(handle, lines)
        except BaseException:
            handle.close()
            raise
    return handle


def hold_lines(handle: serial.Serial, lines: ModemLines) -> None:
    """Set DTR and RTS to ``lines``: RTS lowered first, DTR next, RTS raised last, so the
    lines never pass through DTR low with RTS high unless that is where they are to stay.
    A port without modem lines (a pty) is left as it is; a failure that means the port went
    away raises :class:`~belay.errors.ConnectionLostError`."""
    try:
        if not lines.rts and handle.rts:
            handle.rts = False
        if handle.dtr != lines.dtr:
            handle.dtr = lines.dtr
        if handle.rts != lines.rts:
            handle.rts = lines.rts
    except OSError as error:
        if error.errno not in NO_LINES:
            raise ConnectionLostError(
                f"cannot set DTR/RTS on {handle.port}: {error}", port=handle.port
            ) from error
        logger.debug("%s has no modem lines to set (%s)", handle.port, error)


def release_lines(handle: serial.Serial) -> None:
    """Lower RTS, then DTR, before the port closes (mpremote's order: lowering DTR first would
    reset an ESP board through its auto-reset circuit); failures are ignored."""
    for line in ("rts", "dtr"):
        with contextlib.suppress(OSError, serial.SerialException, ValueError):
            setattr(handle, line, False)
