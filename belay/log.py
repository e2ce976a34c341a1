"""Logging: every record carries ``session_id`` (the session belay is working for, else
``None``), and the CLI's handler (``-v``/``-q``; rich on a terminal, plain text otherwise).

Importing this module wraps the logging record factory once, so handlers of any program can
format ``%(session_id)s``. Sessions mark their work with :func:`for_session`.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TextIO

SESSION_ID: ContextVar[str | None] = ContextVar("belay_session_id", default=None)
LEVELS = (logging.CRITICAL, logging.ERROR, logging.WARNING, logging.INFO, logging.DEBUG)
"""``-qq``, ``-q``, neither, ``-v``, ``-vv``."""
PLAIN_FORMAT = "belay: %(levelname)s %(name)s%(session_tag)s: %(message)s"

_CLI_HANDLER = "belay-cli"
_previous_factory: Callable[..., logging.LogRecord] | None = None


def _record(*args: Any, **kwargs: Any) -> logging.LogRecord:
    assert _previous_factory is not None
    record = _previous_factory(*args, **kwargs)
    session_id = SESSION_ID.get()
    record.session_id = session_id
    record.session_tag = f" [{session_id}]" if session_id else ""
    return record


def install_record_factory() -> None:
    """Give every log record ``session_id`` and ``session_tag`` (`` [id]`` or ``""``); idempotent."""
    global _previous_factory
    if _previous_factory is None:
        _previous_factory = logging.getLogRecordFactory()
        logging.setLogRecordFactory(_record)


@contextmanager
def for_session(session_id: str) -> Iterator[None]:
    """Records logged in the block (in this task) carry ``session_id``."""
    token = SESSION_ID.set(session_id)
    try:
        yield
    finally:
        SESSION_ID.reset(token)


def level_for(verbose: int, quiet: int) -> int:
    """The level ``-v`` (``verbose`` times) and ``-q`` (``quiet`` times) ask for."""
    return LEVELS[max(0, min(len(LEVELS) - 1, 2 + verbose - quiet))]


def configure_cli_logging(verbose: int = 0, quiet: int = 0, stream: TextIO | None = None) -> logging.Handler:
    """Send ``belay.*`` records at the level ``-v``/``-q`` ask for to ``stream`` (default:
    stderr): through rich on a terminal, as plain lines otherwise. Returns the handler."""
    stream = sys.stderr if stream is None else stream
    handler: logging.Handler
    if stream.isatty():
        from rich.console import Console
        from rich.logging import RichHandler

        handler = RichHandler(console=Console(file=stream), show_path=False)
        handler.setFormatter(logging.Formatter("%(name)s%(session_tag)s: %(message)s"))
    else:
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter(PLAIN_FORMAT))
    logger = logging.getLogger("belay")
    for old in [h for h in logger.handlers if h.get_name() == _CLI_HANDLER]:
        logger.removeHandler(old)
    handler.set_name(_CLI_HANDLER)
    logger.addHandler(handler)
    logger.setLevel(level_for(verbose, quiet))
    logger.propagate = False
    return handler


install_record_factory()

__all__ = ["SESSION_ID", "configure_cli_logging", "for_session", "install_record_factory", "level_for"]
