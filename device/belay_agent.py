# belay_agent: the device half of belay sessions (MicroPython 1.9 and newer). Each session has
# its own namespace and records of deployed methods, files and (with belay_agent_threads)
# threads and timers; end() removes them and reports what it could not. Sessions are known by
# an unguessable token (t) that only their host holds, and shown by their public id (sid).
# A session whose host stops renewing its lease is reaped: by the next begin(), by reap(), or
# by belay_agent_threads' reaper. Kept small: the micro:bit compiles it in ~9 KB of heap.
# Output of background code goes to a bounded per-session buffer, never to the raw REPL.
import gc

try:
    from time import sleep_ms, ticks_diff, ticks_ms
except ImportError:
    from utime import sleep_ms, ticks_diff, ticks_ms
try:
    from _thread import get_ident
except ImportError:

    def get_ident():
        return 0


MAIN = get_ident()
S = {}
T = {}
reaped = []
_p = print


class Session:
    def __init__(s, t, sid, lease):
        s.t = t
        s.sid = sid
        s.lease = lease
        s.seen = s.born = ticks_ms()
        s.stop = False
        s.threads = {}
        s.timers = {}
        s.methods = {}
        s.files = {}
        s.out = []
        s.ns = {"__name__": "__belay__", "print": s.print}

    def print(s, *a, **k):
        if get_ident() == MAIN and not T.get(-1):
            return _p(*a, **k)
        s.keep(k.get("sep", " ").join([str(v) for v in a]) + k.get("end", "\n"))

    def keep(s, text):
        s.out.append(text)
        while len(s.out) > 1 and sum([len(t) for t in s.out]) > 2048:
            s.out.pop(0)


def get(t):
    s = S[t]
    s.seen = ticks_ms()
    return s


def running():
    s = T.get(get_ident())
    return s is None or not s.stop


def begin(t, sid, lease):
    reap()
    S[t] = Session(t, sid, lease)
    _p(repr(reaped))
    del reaped[:]


def x(t, code):
    exec(code, get(t).ns)


def e(t, expr):
    _p(repr(eval(expr, get(t).ns)))


def c(t, name, *a, **k):
    _p(repr(get(t).ns[name](*a, **k)))


def _end(s, wait):
    if S.pop(s.t, None) is None:
        return []
    s.stop = True
    for h in s.timers.values():
        if h:
            h.deinit()
    s.timers.clear()
    t0 = ticks_ms()
    while ticks_diff(ticks_ms(), t0) < wait and [1 for r in s.threads.values() if r[0] == "running"]:
        sleep_ms(5)
    bad = ["thread %s did not stop" % n for n, r in s.threads.items() if r[0] == "running"]
    import os

    for f in s.files:
        try:
            os.remove(f)
        except OSError as err:
            bad.append("file %s: %s" % (f, err))
    s.ns.clear()
    return bad


def end(t, wait=1000):
    bad = _end(get(t), wait)
    gc.collect()
    _p(repr(bad))


def reap():
    # End every session whose lease ran out; what was reaped waits in `reaped` until a host
    # collects it (begin, or `belay reap`).
    now = ticks_ms()
    n = 0
    for s in list(S.values()):
        if ticks_diff(now, s.seen) > s.lease:
            reaped.append((s.sid, ticks_diff(now, s.seen), _end(s, 200)))
            n = 1
    del reaped[:-8]
    if n:
        gc.collect()
