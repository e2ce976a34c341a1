# belay_agent: the device half of belay sessions (MicroPython 1.9 and newer). Each session has
# its own namespace and records of deployed methods, files and (with belay_agent_threads)
# threads and timers; end() removes them and reports what it could not. Kept small: the
# micro:bit compiles it in ~9 KB of heap. Output of background code goes to a bounded
# per-session buffer, never to the raw REPL.
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
    def __init__(s, sid, lease):
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


def get(sid):
    s = S[sid]
    s.seen = ticks_ms()
    return s


def running():
    s = T.get(get_ident())
    return s is None or not s.stop


def begin(sid, lease):
    reap()
    S[sid] = Session(sid, lease)


def x(sid, code):
    exec(code, get(sid).ns)


def e(sid, expr):
    _p(repr(eval(expr, get(sid).ns)))


def c(sid, name, *a, **k):
    _p(repr(get(sid).ns[name](*a, **k)))


def _end(s, wait):
    s.stop = True
    for t in s.timers.values():
        if t:
            t.deinit()
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
    del S[s.sid]
    return bad


def end(sid, wait=1000):
    bad = _end(get(sid), wait)
    gc.collect()
    _p(repr(bad))


def reap():
    now = ticks_ms()
    for s in list(S.values()):
        if ticks_diff(now, s.seen) > s.lease:
            reaped.append((s.sid, _end(s, 200)))
    del reaped[:-8]
    gc.collect()
