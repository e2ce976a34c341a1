# belay_agent: the device half of belay sessions (MicroPython 1.9 and newer), imported as _ba,
# the one name belay keeps in the REPL's globals. Every string the host sends it is built in
# belay/agent/calls.py. A session is known by an unguessable token (t) only its host holds and
# shown by its public id (sid); its calls name it by a short handle (h, a six-digit int its host
# derives from the token and begin is given: not guessable from another session's), valid only
# while the session is open. Sessions are isolated from each other's mistakes, not from malice:
# MicroPython has no privilege separation, and any code can read this module's records. Its record is a list
# (less heap than an object):
#   [sid, lease_ms, seen, born, namespace, extras, h]
# extras is None until the session needs it: a dict of temp files "f", open file
# handles "w"/"r", and (belay_agent_threads) threads "t", timers "T", output "o".
# User code runs as exec(code, namespace) straight from the raw REPL's own code: one level
# deeper than the bare REPL, the least a board allows (the micro:bit's stack holds ~5 calls).
# print stays the builtin unless a session starts background code (belay_agent_threads).
# A session whose host stops renewing its lease is reaped: by the next begin(), by reap(), or
# by belay_agent_threads' reaper. Why a token is gone is kept (bounded) to say so truthfully.
import gc

try:
    from time import sleep_ms, ticks_diff, ticks_ms
except ImportError:
    from utime import sleep_ms, ticks_diff, ticks_ms
try:
    ROOT = __import__("os").getcwd()
except AttributeError:
    ROOT = ""

S = {}
# Why the last 4 tokens went: hash, reason (a ring, allocated once); G[8]: next slot. Reasons:
# "ended" (by its host), "host" (by another host: belay reap --all, belay clean), "lease",
# "lost", "code" (by code on the board).
G = [0] * 9
reaped = []
_p = print


def running():
    return 1


def x(t):
    r = get(t)
    if r[5] is None:
        r[5] = {}
    return r[5]


def get(t, q=0):
    # The record of the session that token or handle t names (q: its token), stamped as seen.
    for k in S:
        if S[k][6] == t:
            t = k
            break
    r = S.get(t)
    if r is None:
        h = hash(t)
        w = "unknown"
        for i in range(0, 8, 2):
            if G[i] == h:
                w = G[i + 1]
        raise KeyError("belay:" + w)
    r[2] = ticks_ms()
    return t if q else r


def g(t):
    return get(t)[4]


d = running  # a call ends (belay_agent_threads puts its own here, where calls are guarded)


def v(o):
    # Printed as it is built: no copy of a large answer in the heap (str(o) is repr(o) but for str).
    _p("\x1e", repr(o) if type(o) is str else o, sep="")


def begin(t, h, sid, lease, reserve, each, renew=()):
    for o in renew:
        if o in S:
            get(o)
    reap(0)
    # On a small heap, collect first, so what the session keeps fills the lowest free blocks:
    # allocated at the garbage's high-water mark, sessions would pin blocks all over it. (Not
    # on roomy boards: the unix port's interrupts can land inside a collection, locking its heap.)
    if gc.mem_free() + gc.mem_alloc() < 65536:
        gc.collect()
    if gc.mem_free() < reserve + each * len(S):  # no room for it and every session's calls
        raise MemoryError("belay:full:%d:%d" % (gc.mem_free(), len(S)))
    S[t] = [sid, lease, ticks_ms(), ticks_ms(), {"__name__": "__main__"}, None, h]
    v(reaped)
    del reaped[:]


def _stop(r, wait):
    return []


def _end(t, wait, why):
    t = get(t, 1)  # a handle names its session's token; a session gone says why
    r = S.pop(t, None)
    if r is None:
        return []
    i = G[8]
    G[i] = hash(t)
    G[i + 1] = why
    G[8] = (i + 2) % 8
    bad = _stop(r, wait)
    e = r[5] or {}
    for k in "wr":
        if e.get(k):
            e[k].close()
    import os

    for f in e.get("f", ()):
        try:
            os.remove(f if f[:1] == "/" or not ROOT else ROOT + "/" + f)
        except OSError as err:
            bad.append("file %s: %s" % (f, err))
    r[4].clear()
    r[5] = None
    gc.collect()
    return bad


def reap(every):
    # End every session whose lease ran out (every session with every: 1 from code on the board,
    # "host" from a host); what was reaped waits in `reaped` until a host collects it (begin,
    # or `belay reap`).
    # No list of S's tokens: a stale word on the unix reaper thread's stack once pinned such a
    # dead list, and with it the tokens of every session it held, after the sessions ended.
    now = ticks_ms()
    n = 0
    while 1:
        for t in S:
            r = S[t]
            if every or ticks_diff(now, r[2]) > r[1]:
                break
        else:
            break
        reaped.append((r[0], ticks_diff(now, r[2]), _end(t, 200, (every if every != 1 else "code") if every else "lease")))
        n = 1
    del reaped[:-8]
    if n:
        gc.collect()
