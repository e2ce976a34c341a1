"""``belay history [--port P] [--json]``: what the session journal says happened, per board.

For each port: the board last seen there, sessions begun, how they ended (closed, failed,
lost; reaped ones were ended by the board for a silent host), cleanup failures, reaps, the
median and longest session, the first and last event. A session begun and never ended (its
host died) counts as ``unfinished``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from belay.cli.common import CliError

if TYPE_CHECKING:
    from belay.container import Container

OUTCOMES = ("closed", "failed", "lost", "reaped")


def _outcome(event: dict[str, Any]) -> str:
    """How an ``end`` event's session ended (journals before outcomes were written: guessed)."""
    if event.get("outcome") in OUTCOMES:
        return str(event["outcome"])
    if event.get("state") == "lost":
        return "lost"
    return "failed" if event.get("problems") else "closed"


def _new_board() -> dict[str, Any]:
    return {"board": None, "sessions": 0, "ended": dict.fromkeys(OUTCOMES, 0), "cleanup_failures": 0,
            "reaps": 0, "unfinished": 0, "durations": [], "first": None, "last": None}  # fmt: skip


def _take(board: dict[str, Any], event: dict[str, Any], begun: set[str]) -> None:
    kind, session_id = event.get("event"), str(event.get("session_id"))
    board["first"] = board["first"] or event.get("time")
    board["last"] = event.get("time") or board["last"]
    if isinstance(event.get("board"), dict):
        board["board"] = event["board"]
    if kind == "begin":
        board["sessions"] += 1
        begun.add(session_id)
    elif kind == "end":
        if _outcome(event) != "reaped":  # a reaped session of the host's own: its reap counted it
            board["ended"][_outcome(event)] += 1
        board["cleanup_failures"] += len(event.get("problems") or [])
        if isinstance(event.get("duration_s"), int | float):
            board["durations"].append(float(event["duration_s"]))
        begun.discard(session_id)
    elif kind == "reaped":
        board["ended"]["reaped"] += 1
        board["reaps"] += 1
        board["cleanup_failures"] += len(event.get("problems") or [])
        begun.discard(session_id)


def summarise(events: Iterable[dict[str, Any]], port: str | None = None) -> dict[str, dict[str, Any]]:
    """Per port (only ``port``, if given): what :func:`render` shows; durations as median and
    max seconds."""
    import statistics

    boards: dict[str, dict[str, Any]] = {}
    open_ids: dict[str, set[str]] = {}
    for event in events:
        where = event.get("port")
        if not isinstance(where, str) or (port is not None and where != port):
            continue
        _take(boards.setdefault(where, _new_board()), event, open_ids.setdefault(where, set()))
    for where, board in boards.items():
        board["unfinished"] = len(open_ids[where])
        durations = board.pop("durations")
        board["duration_s"] = {
            "median": round(statistics.median(durations), 3) if durations else None,
            "max": round(max(durations), 3) if durations else None,
        }
    return boards


def _describe(board: dict[str, Any] | None) -> str:
    if not board:
        return "-"
    return f"{board.get('implementation', '?')} {board.get('version', '?')} on {board.get('platform', '?')}"


def render(summary: dict[str, dict[str, Any]], journal: Path, out: Any) -> None:
    """``summary`` as a table on the rich console ``out``."""
    from rich.table import Table

    if not summary:
        out.print(f"no sessions in the journal {journal} (belay commands journal theirs there "
                  "unless journal_path or $BELAY_JOURNAL_PATH names another; from Python, pass "
                  "journal_path)")  # fmt: skip
        return
    out.print(f"belay history of {journal}")
    table = Table()
    for column in ("port", "board", "sessions", "ended", "cleanup failures", "median/max s"):
        table.add_column(column, overflow="fold", min_width=18 if column == "board" else None)
    for port, board in sorted(summary.items()):
        ended = ", ".join(f"{board['ended'][o]} {o}" for o in OUTCOMES if board["ended"][o])
        if board["unfinished"]:
            ended += f"{', ' if ended else ''}{board['unfinished']} unfinished"
        durations = "/".join(str(board["duration_s"][which] or "-") for which in ("median", "max"))
        table.add_row(port, _describe(board["board"]), str(board["sessions"]), ended or "-",
                      str(board["cleanup_failures"]), durations)  # fmt: skip
    out.print(table)


def cmd_history(args: argparse.Namespace, container: Container) -> int:
    import json

    from rich.console import Console

    from belay.journal import default_journal_path, read_journal

    configured = container.options().journal_path
    journal = Path(args.journal) if args.journal else configured or default_journal_path()
    port = container.port_aliases().get(args.port, args.port) if args.port else None
    try:
        events = read_journal(journal)
    except OSError as error:  # a folder, a file it may not read
        raise CliError(f"cannot read the journal {journal}: {error.strerror or error}") from None
    summary = summarise(events, port)
    if args.json:
        sys.stdout.write(json.dumps({"journal": str(journal), "ports": summary}, indent=2) + "\n")
    else:  # piped, the table is as wide as it needs (rich would cut it at 80 columns)
        render(summary, journal, Console(file=sys.stdout, width=None if sys.stdout.isatty() else 1000))
    return 0


def add_parser(commands: Any, name: str) -> None:
    """Register ``belay history`` on the subcommands ``commands``."""
    history = commands.add_parser(name, help="summarise the session journal: sessions per board, "
                                  "how they ended, cleanup failures, reaps")  # fmt: skip
    history.add_argument("-p", "--port", help="only this board (a port, or an alias)")
    history.add_argument("--json", action="store_true", help="print the summary as JSON")
    history.add_argument("--journal", help="journal file (default: $BELAY_JOURNAL_PATH, the config's "
                         "journal_path, else the one in the user's state directory, where belay "
                         "commands journal their sessions)")  # fmt: skip
    history.set_defaults(handler=cmd_history)
