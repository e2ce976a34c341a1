"""Calls that begin, renew, end and reap sessions, and read what the agent holds."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from belay.agent.names import Ref
from belay.agent.sources import minified_device_file


def handle_of(token: str) -> int:
    """The session's handle: a six-digit number drawn from the token's SHA-256, so one
    session's handle says nothing of another's (1 in 900 000 to guess). Two open sessions of
    different hosts share one by that chance, and the agent would take the first; a host never
    gives two of its own one (:meth:`~belay.session.board.Board.token_with_a_free_handle`
    draws another token before the session is made). Six digits, not more: every call
    names it, and the micro:bit's raw REPL keeps its input buffer as long as the longest call."""
    digest = hashlib.sha256(token.encode()).digest()
    return int.from_bytes(digest[:4], "big") % 900_000 + 100_000


def begin(
    token: str, session_id: str, lease_ms: int, renew: Iterable[str], reserve: int = 0, each: int = 0
) -> str:
    """Open a session (renewing ``renew``'s leases first, reaping what ran out) if the board
    has ``reserve`` bytes of heap free plus ``each`` for every session already open, else a
    ``MemoryError`` reading ``belay:full:<free>:<sessions open>``; answers the sessions reaped since a host
    last asked."""
    tokens = list(renew)
    return f"_ba.begin({token!r},{handle_of(token)},{session_id!r},{lease_ms},{reserve},{each}" + (
        f",{tokens!r})" if tokens else ")"
    )


def begin_steps(
    token: str,
    session_id: str,
    lease_ms: int,
    renew: Iterable[str],
    reserve: int,
    each: int,
    most: int | None,
) -> list[str]:
    """:func:`begin`, its answer the last; the session's handle (which names it in its calls
    while it is open) is :func:`handle_of` its token. As calls of at most ``most`` bytes each
    where a line is that short (a small UART: several short calls, not a paced long one); run
    them with nothing between."""
    whole = begin(token, session_id, lease_ms, renew, reserve, each)
    if most is None or len(whole) + 1 <= most:
        return [whole]
    tokens = list(renew)
    numbers = f"{lease_ms},{reserve},{each}" + (f",{tokens!r}" if tokens else "")
    return [  # the arguments ahead, in a list of the REPL's that begin takes and deletes
        f"_ba_k=[{token!r},{handle_of(token)}]",
        f"_ba_k.append({session_id!r})",
        f"_ba_k+=({numbers})",
        "_ba.begin(*_ba_k)\ndel _ba_k",
    ]


def end_steps(handle: int, wait_ms: int, most: int | None) -> list[str]:
    """:func:`end` by the session's handle (refused saying why, as a token is, once it is gone)."""
    return _joined_if_short([f"_ba.v(_ba._end({handle},{wait_ms},'ended'))"], most)


def _joined_if_short(steps: list[str], most: int | None) -> list[str]:
    """``steps`` as one call, or one call each where that is longer than ``most`` bytes."""
    if most is None or sum(len(step) + 1 for step in steps) <= most:
        return ["\n".join(steps)]
    return steps


def end(token: str, wait_ms: int) -> str:
    """End a session: stop its threads (waiting ``wait_ms``), timers, remove its files and
    namespace; answers what could not be removed."""
    return f"_ba.v(_ba._end(_ba.get({token!r})and {token!r},{wait_ms},'ended'))"


def renew(token: Ref) -> str:
    return f"_ba.get({token!r})"


def end_orphans(tokens: Iterable[str]) -> str:
    """End the sessions a lost connection left (this host's own tokens); answers them."""
    return (
        f"_ba.v([(_ba.S[t][0],-1,_ba._end(t,200,'lost')) for t in {list(tokens)!r} if t in _ba.S])\n"
        "__import__('gc').collect()"
    )


def reap_expired() -> str:
    """End the sessions whose leases ran out, keeping their records for the next ``begin``
    (short: it must compile on a board too full for anything else)."""
    return "if '_ba' in globals():_ba.reap(0)"


def reap(every: bool) -> str:
    """Reap expired sessions (every session with ``every``); answers all reaped so far."""
    reason = "'host'" if every else "0"  # every session, ended by a host; or the expired only
    return f"_ba.reap({reason})\n_ba.v(_ba.reaped)\ndel _ba.reaped[:]"


def output(token: Ref) -> str:
    """What the session's background code printed since the last look (then cleared); only
    boards with threads have background code."""
    return f"_ba.out({token!r})"


def running_threads(token: Ref) -> str:
    """The names of the session's threads still running, sorted (``[]`` where none ran)."""
    threads = f"(_ba.get({token!r})[5] or {{}}).get('t',{{}})"
    return f"_ba.v(sorted([n for n,q in {threads}.items() if q[0]=='running']))"


def stats() -> str:
    """The agent's whole record and the board's heap (sent on demand, leaves no names)."""
    return minified_device_file("agent_stats.py").decode()


def live_session_ids() -> str:
    return "print(repr([r[0] for r in _ba.S.values()] if '_ba' in globals() else []))"


def zombie_threads() -> str:
    return "print(repr(list(_ba.zombies()) if '_ba' in globals() and getattr(_ba,'W',None) else []))"
