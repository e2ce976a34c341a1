# belay_agent_threads: background threads and timers for belay sessions, on boards with _thread
# (and machine.Timer where there is one; a software timer thread otherwise), and the reaper
# that ends sessions whose lease ran out even when no host comes back. It installs itself into
# belay_agent (no name of its own in the REPL's globals).
# A thread ends recorded as finished or crashed whatever ends it (SystemExit and
# KeyboardInterrupt included), never as running. The reaper survives anything it meets.
# While sessions are open (or a session's thread runs), code imports _thread and time as shims
# (Z, where the board has sys.modules): a thread it starts with _thread itself is the session's,
# stopped at its end like session.thread's, and its sleeps (sliced) and prints are where it stops.
import _thread

import belay_agent as A

sleep_ms = A.sleep_ms

MAIN = _thread.get_ident()
T = {}  # thread ident -> its session's record; -1 -> 1 while a machine.Timer callback runs
B = [None]  # when the call in progress began (None: no call)
R = {}  # "sid/name" -> [state, error] of every running thread; zombies() are those whose session ended
W = [None, None]  # the reaper (once started), when it last ran
# Modules a session's call first imports are its own (its extras' "m"), removed from
# sys.modules when it ends: K[0] the modules known when the call began, K[1] its record.
try:
    from sys import modules as M
except ImportError:
    M = None
K = [set(M or ()), None]


def ext(r):
    if r[5] is None:
        r[5] = {}
    return r[5]


def running():
    r = T.get(_thread.get_ident())
    return r is None or r[1] >= 0


def _keep(r, text):
    # The last L characters (the host's thread_output_limit; 2048 by default) are kept; what
    # goes is counted in "d", and out() marks the gap.
    e = ext(r)
    o = e.setdefault("o", [])
    o.append(text)
    n = sum([len(s) for s in o]) - e.get("L", 2048)
    while n > 0:
        s = o[0]
        k = min(n, len(s))
        e["d"] = e.get("d", 0) + k
        n -= k
        if k < len(s):
            o[0] = s[k:]
        else:
            o.pop(0)


def _said(a, k):  # what print(*a, **k) would print
    return k.get("sep", " ").join([str(o) for o in a]) + k.get("end", "\n")


def _capture(r):
    # Background code needs its print captured (it must never reach the raw REPL stream); the
    # session's own calls still print straight through, and print(..., file=f) writes to f.
    # A thread of an ended session stops at its next print.
    def pr(*a, **k):
        if not running():
            raise SystemExit
        if "file" in k or (_thread.get_ident() == MAIN and not T.get(-1)):
            return A._p(*a, **k)
        _keep(r, _said(a, k))

    if "print" not in r[4]:
        r[4]["print"] = pr


def _guard(r, name, rec, fn, args):
    i = _thread.get_ident()
    T[i] = r
    rec[0] = "running"
    try:
        fn(*args)
        rec[0] = "finished"
    except SystemExit:
        rec[0] = "finished"
    except BaseException as err:
        rec[0] = "crashed"
        rec[1] = "%s: %s" % (type(err).__name__, err)
        try:
            _keep(r, "thread %s crashed: %s\n" % (name, rec[1]))
        except BaseException:
            pass
    finally:
        if rec[0] == "running":
            rec[0] = "crashed"
        T.pop(i, None)
        R.pop(r[0] + "/" + name, None)
        _unlend()


def _start(r, name, fn, args):
    _capture(r)
    ts = ext(r).setdefault("t", {})
    for n in [n for n in ts if ts[n][0] != "running"][:-16]:
        del ts[n]
    rec = ts[name] = R[r[0] + "/" + name] = ["running", None]
    _lend()
    try:
        _thread.start_new_thread(_guard, (r, name, rec, fn, args))
    except BaseException as err:
        # Interrupted (or refused) before the thread ran: it is not running. Should it have
        # started after all, its _guard marks it running again.
        rec[0] = "crashed"
        rec[1] = "not started: %s" % type(err).__name__
        R.pop(r[0] + "/" + name, None)
        _unlend()
        raise


def thread(t, name, fn, args, L=2048):
    r = A.get(t)
    ext(r)["L"] = L
    _start(r, name, r[4][fn], args)


N = [0]  # threads session code started with _thread itself, counted for their names


def _adopt(fn, args, kw=None):
    # _thread.start_new_thread as session code sees it: from a session's call or thread, the
    # thread is that session's ("blink#3"); from anywhere else, a plain one.
    i = _thread.get_ident()
    r = T.get(i) or (K[1] if i == MAIN else None)
    if r is None:
        return _thread.start_new_thread(fn, args, kw or {})
    if r[1] < 0:  # a thread of an ended session, stopping: no new one of its
        raise SystemExit
    N[0] += 1
    name = "%s#%d" % (getattr(fn, "__name__", "thread"), N[0])
    if fn is A._p:  # print itself, which no override of the name reaches
        fn = _bp
    _start(r, name, (lambda *a: fn(*a, **kw)) if kw else fn, args)


def _nap(f, k):
    # A sleep in slices of k, a stop point before each: a thread of an ended session stops
    # within one slice (its session's end waits a second for it).
    def s(n):
        while 1:
            if not running():
                raise SystemExit
            if n <= k:
                return f(n)
            f(k)
            n -= k

    return s


class _Z:
    def __repr__(z):
        return "<module '%s'>" % z.__name__


def _shim(m, over):
    z = _Z()
    for k in dir(m):
        try:
            setattr(z, k, getattr(m, k))
        except Exception:
            pass
    for k in over:
        setattr(z, k, over[k])
    return z


def _bp(*a, **k):
    # print while a session's thread runs (where builtins can be overridden): a module's code
    # in a session's thread is captured too (a thread's print must never reach the raw REPL).
    r = T.get(_thread.get_ident())
    if r is None or "file" in k:
        return A._p(*a, **k)
    if r[1] < 0:
        raise SystemExit
    _keep(r, _said(a, k))


def _lend():
    with L:
        for k in Z:
            if k not in M:
                M[k] = Z[k]
        if R and U and U[0].print is not _bp:
            U[1] = U[0].print
            U[0].print = _bp


def _unlend():
    # Once no session is open and no session's thread runs: the board's own modules again
    # (lent from a session's first call to its end, not call by call: a call pays one lookup);
    # once no session's thread, its own print.
    with L:
        if not R and U and U[0].print is _bp:
            if U[1] is A._p:
                del U[0].print
            else:
                U[0].print = U[1]
        if M is not None and not A.S and not R:
            for k in Z:
                if M.get(k) is Z[k]:
                    M.pop(k)


try:
    import builtins

    builtins.print = builtins.print  # overridable? (MICROPY_CAN_OVERRIDE_BUILTINS)
    del builtins.print
    U = [builtins, None]
except Exception:
    U = None


L = _thread.allocate_lock()


Z = {}
if M is not None:
    try:
        import time as _t
    except ImportError:
        import utime as _t
    Z["_thread"] = _shim(_thread, {"start_new_thread": _adopt})
    Z["time"] = Z["utime"] = _shim(_t, {"sleep": _nap(_t.sleep, 0.05), "sleep_ms": _nap(sleep_ms, 50)})
    if hasattr(_t, "sleep_us"):
        Z["time"].sleep_us = _nap(_t.sleep_us, 50000)
    del _t


def zombies():
    live = [r[0] for r in A.S.values()]
    return dict([(k, q) for k, q in R.items() if k.split("/")[0] not in live])


def _tick(r, tm, name, fn, period, args):
    while r[1] >= 0 and name in tm:
        sleep_ms(period)
        if r[1] >= 0 and name in tm:
            fn(*args)


def timer(t, name, fn, period, args, L=2048):
    r = A.get(t)
    f = r[4][fn]
    ext(r)["L"] = L
    tm = ext(r).setdefault("T", {})
    try:
        from machine import Timer
    except ImportError:
        tm[name] = None
        _start(r, name, _tick, (r, tm, name, f, period, args))
        return
    _capture(r)

    def fire(h):
        T[-1] = 1
        try:
            f(*args)
        except Exception as err:
            _keep(r, "timer %s crashed: %s\n" % (name, err))
        T[-1] = 0

    h = Timer(-1)
    h.init(period=period, mode=Timer.PERIODIC, callback=fire)
    tm[name] = h


def out(t):
    e = A.get(t)[5] or {}
    o = "".join(e.pop("o", ()))
    n = e.pop("d", 0)
    A.v("[... %d characters dropped ...]\n%s" % (n, o) if n else o)


def cancel_timer(t, name):
    h = A.x(t)["T"].pop(name)
    if h:
        h.deinit()


def _stop(r, wait):
    r[1] = -1
    e = r[5] or {}
    for k in e.get("m", ()):  # its modules go, their heap with them (unless its host keeps them)
        M.pop(k, None)
        K[0].discard(k)
    tm = e.get("T", {})
    for h in tm.values():
        if h:
            h.deinit()
    tm.clear()
    ts = e.get("t", {})
    t0 = A.ticks_ms()
    while A.ticks_diff(A.ticks_ms(), t0) < wait and [1 for q in ts.values() if q[0] == "running"]:
        sleep_ms(5)
    # An emptied dict keeps its table wherever a load grew it, splitting the heap's largest free
    # block: free them (no thread is between _start and its end when R is empty). S is freed
    # here, not in the core's _end, to keep the core within the micro:bit's resident budget.
    if not R:
        R.clear()
        T.clear()
        if not A.S:
            A.S.clear()
    _unlend()
    return ["thread %s did not stop" % n for n, q in ts.items() if q[0] == "running"]


# Calls keep the reaper off while they run, and renew the leases that were live when a long
# call began (no host could renew them meanwhile).
def g(t):
    B[0] = A.ticks_ms()
    r = A.get(t)
    if M is not None:
        if M.get("_thread") is not Z["_thread"]:
            _lend()
        if len(K[0]) != len(M):  # imported outside a call (the agent's parts, a thread): no one's
            K[0] = set(M)
        K[1] = r
    return r[4]


def _mine():
    r = K[1]
    K[1] = None
    if r is not None and len(K[0]) != len(M):
        m = ext(r).setdefault("m", [])
        for k in M:
            if k not in K[0]:
                K[0].add(k)
                if not k.startswith("belay_agent") and k not in Z:
                    m.append(k)


def d():
    if M is not None:
        _mine()
    b = B[0]
    B[0] = None
    n = A.ticks_ms()
    if b is not None and A.ticks_diff(n, b) > 99:
        for r in A.S.values():
            if A.ticks_diff(b, r[2]) < r[1]:
                r[2] = n


def c(*a, **k):  # token, name, then the call's own arguments: no keyword of its can collide
    try:
        o = g(a[0])[a[1]](*a[2:], **k)
    finally:
        d()
    A.v(o)


def size(p):
    import os

    try:
        return os.stat(p)[6]
    except OSError:
        return -1


def _reap(_):
    # Never while a call runs: it holds the line, so its host cannot renew leases meanwhile.
    try:
        W[1] = A.ticks_ms()
        if B[0] is None:
            A.reap(0)
    except BaseException:
        pass


def _reaper(period):
    while W[0] == 1:  # belay clean sets it to None
        try:
            sleep_ms(period)
        except BaseException:
            pass
        _reap(0)


def _fire(h):
    try:
        schedule(_reap, 0)
    except BaseException:
        pass


def start_reaper(period):
    # A soft machine.Timer where there is one (rp2 has a single spare core for _thread), else a thread.
    if W[0]:
        return
    global schedule
    try:
        from machine import Timer
        from micropython import schedule

        W[0] = Timer(-1)
        W[0].init(period=period, mode=Timer.PERIODIC, callback=_fire)
    except Exception:
        W[0] = 1
        _thread.start_new_thread(_reaper, (period,))


A.running, A._stop, A.g, A.d, A.c = running, _stop, g, d, c
A.thread, A.timer, A.cancel_timer, A.zombies = thread, timer, cancel_timer, zombies
A.start_reaper, A.out, A.size, A.W = start_reaper, out, size, W
